package logsys.kafka;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CRL;
import java.security.cert.CertStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import javax.net.ssl.CertPathTrustManagerParameters;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * PKIX trust with revocation checked against local CRL files. Before each
 * check the files' identity (inode, size, mtime) is compared with the
 * loaded one; a change reloads them, so a revocation needs no restart. A
 * reload that fails keeps the previous CRLs and logs why; it is retried
 * when the files change again. Host name checks stay the JDK's.
 */
final class CrlTrustManager extends X509ExtendedTrustManager {
    private static final Logger log = LoggerFactory.getLogger(CrlTrustManager.class);

    private final KeyStore anchors;
    private final List<Path> files;
    private volatile Snapshot current;

    private record Snapshot(List<Object> stamp, X509ExtendedTrustManager delegate) {}

    CrlTrustManager(KeyStore anchors, List<Path> files) throws GeneralSecurityException, IOException {
        this.anchors = anchors;
        this.files = files;
        List<Object> stamp = stamp();
        current = new Snapshot(stamp, build());
        log.debug("CRL check on: {}", files);
    }

    /** The identity of every CRL file; a change means a reload. */
    private List<Object> stamp() throws IOException {
        List<Object> out = new ArrayList<>();
        for (Path p : files) {
            BasicFileAttributes a = Files.readAttributes(p, BasicFileAttributes.class);
            out.add(a.fileKey());
            out.add(a.size());
            out.add(a.lastModifiedTime());
        }
        return out;
    }

    private X509ExtendedTrustManager build() throws GeneralSecurityException, IOException {
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        List<CRL> crls = new ArrayList<>();
        for (Path p : files) {
            try (InputStream in = Files.newInputStream(p)) {
                var got = cf.generateCRLs(in);
                if (got.isEmpty()) {
                    throw new CertificateException(p + ": no CRL");
                }
                crls.addAll(got);
            }
        }
        PKIXBuilderParameters params = new PKIXBuilderParameters(anchors, new X509CertSelector());
        params.setRevocationEnabled(true);
        params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(crls)));
        TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
        tmf.init(new CertPathTrustManagerParameters(params));
        for (TrustManager tm : tmf.getTrustManagers()) {
            if (tm instanceof X509ExtendedTrustManager x) {
                return x;
            }
        }
        throw new GeneralSecurityException("PKIX trust manager factory returned no X509ExtendedTrustManager");
    }

    private X509ExtendedTrustManager delegate() {
        Snapshot s = current;
        List<Object> stamp;
        try {
            stamp = stamp();
        } catch (IOException e) {
            log.warn("CRL files unreadable, keeping the loaded CRLs: {}", e.toString());
            return s.delegate();
        }
        if (stamp.equals(s.stamp())) {
            return s.delegate();
        }
        synchronized (this) {
            s = current;
            if (stamp.equals(s.stamp())) {
                return s.delegate();
            }
            try {
                current = new Snapshot(stamp, build());
                log.info("CRLs reloaded: {}", files);
            } catch (GeneralSecurityException | IOException e) {
                current = new Snapshot(stamp, s.delegate());
                log.warn("CRL reload failed, keeping the previous CRLs: {}", e.toString());
            }
            return current.delegate();
        }
    }

    /** A check that logs why a peer is refused (Kafka logs only "SSL handshake failed"). */
    @FunctionalInterface
    private interface Check {
        void run(X509ExtendedTrustManager tm) throws CertificateException;
    }

    private void check(String role, X509Certificate[] chain, Check c) throws CertificateException {
        try {
            c.run(delegate());
        } catch (CertificateException e) {
            String who = chain == null || chain.length == 0 ? "no certificate"
                    : chain[0].getSubjectX500Principal() + " serial " + chain[0].getSerialNumber().toString(16);
            log.info("{} refused ({}): {}", role, who, e.getMessage());
            throw e;
        }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check("client", chain, tm -> tm.checkClientTrusted(chain, authType));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        check("server", chain, tm -> tm.checkServerTrusted(chain, authType));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check("client", chain, tm -> tm.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
        check("server", chain, tm -> tm.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check("client", chain, tm -> tm.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
        check("server", chain, tm -> tm.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return current.delegate().getAcceptedIssuers();
    }
}
