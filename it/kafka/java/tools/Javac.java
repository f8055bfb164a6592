import javax.tools.ToolProvider;

/**
 * javac for machines with a Java runtime only: it/kafka.sh runs it as
 * `java Javac.java ARGS` (source-file mode), which uses the runtime's
 * jdk.compiler module.
 */
public class Javac {
    public static void main(String[] args) {
        var c = ToolProvider.getSystemJavaCompiler();
        if (c == null) {
            System.err.println("no Java compiler in this runtime (jdk.compiler module): install a JDK");
            System.exit(2);
        }
        System.exit(c.run(null, null, null, args));
    }
}
