package logsys.kafka;

import java.nio.file.Path;
import java.security.KeyStore;
import java.security.KeyStoreException;
import java.security.Provider;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.net.ssl.ManagerFactoryParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactorySpi;
import org.apache.kafka.common.security.auth.SecurityProviderCreator;

/**
 * Makes Kafka's own SSL engine factory check client and broker
 * certificates against local CRL files, which the JDK does not do by
 * itself (it only fetches CRLs from distribution-point URLs).
 *
 * <p>Broker configuration:
 * <pre>
 * security.providers=logsys.kafka.CrlProviderCreator
 * ssl.trustmanager.algorithm=LogsysCRL
 * logsys.ssl.crl.location=/path/crl.pem[,/path/other-crl.pem]
 * </pre>
 * The truststore stays Kafka's (PEM, JKS or PKCS#12); its certificates are
 * the PKIX trust anchors. Every CA below an anchor must have its CRL in
 * one of the files, or the peer is refused.
 */
public final class CrlProviderCreator implements SecurityProviderCreator {
    /** The value of ssl.trustmanager.algorithm that selects the CRL check. */
    public static final String ALGORITHM = "LogsysCRL";
    /** Comma-separated CRL files (PEM or DER). */
    public static final String CRL_LOCATION = "logsys.ssl.crl.location";

    private static final String NAME = "LogsysCRL";
    private List<Path> crls = List.of();

    @Override
    public void configure(Map<String, ?> configs) {
        Object v = configs.get(CRL_LOCATION);
        List<Path> out = new ArrayList<>();
        if (v != null) {
            for (String s : v.toString().split(",")) {
                if (!s.isBlank()) {
                    out.add(Path.of(s.trim()));
                }
            }
        }
        crls = List.copyOf(out);
    }

    @Override
    public Provider getProvider() {
        return new CrlProvider(crls);
    }

    /** The JCA provider: one TrustManagerFactory algorithm. */
    private static final class CrlProvider extends Provider {
        private static final long serialVersionUID = 1L;

        CrlProvider(List<Path> crls) {
            super(NAME, "1.0", "logsys: PKIX trust with local CRL files");
            putService(new Service(this, "TrustManagerFactory", ALGORITHM, Factory.class.getName(), null, null) {
                @Override
                public Object newInstance(Object param) {
                    return new Factory(crls);
                }
            });
        }
    }

    /** A TrustManagerFactory whose trust managers check the CRL files. */
    static final class Factory extends TrustManagerFactorySpi {
        private final List<Path> crls;
        private TrustManager[] managers;

        Factory(List<Path> crls) {
            this.crls = crls;
        }

        @Override
        protected void engineInit(KeyStore ks) throws KeyStoreException {
            if (crls.isEmpty()) {
                throw new KeyStoreException(CRL_LOCATION + " is not set: no CRL to check peers against");
            }
            if (ks == null) {
                throw new KeyStoreException(ALGORITHM + " needs a truststore (ssl.truststore.location)");
            }
            try {
                managers = new TrustManager[] {new CrlTrustManager(ks, crls)};
            } catch (Exception e) {
                throw new KeyStoreException("CRL trust manager: " + e.getMessage(), e);
            }
        }

        @Override
        protected void engineInit(ManagerFactoryParameters spec) {
            throw new UnsupportedOperationException(ALGORITHM + " is initialised from a truststore only");
        }

        @Override
        protected TrustManager[] engineGetTrustManagers() {
            if (managers == null) {
                throw new IllegalStateException(ALGORITHM + " trust manager factory is not initialised");
            }
            return managers.clone();
        }
    }
}
