import com.sun.tools.attach.VirtualMachine;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.management.remote.JMXServiceURL;

/**
 * Produce-side counters of a running Kafka broker, read over JMX through
 * the JDK's attach API (the broker needs no JMX port): `java
 * KafkaStats.java PID TOPIC` prints one snapshot, "name value" lines and
 * then "end", for every line read on stdin, until stdin closes.
 */
public class KafkaStats {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) {
            System.err.println("usage: java KafkaStats.java BROKER_PID TOPIC");
            System.exit(2);
        }
        VirtualMachine vm = VirtualMachine.attach(args[0]);
        String addr = vm.startLocalManagementAgent();
        vm.detach();
        String topic = args[1];
        try (JMXConnector c = JMXConnectorFactory.connect(new JMXServiceURL(addr))) {
            MBeanServerConnection s = c.getMBeanServerConnection();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
            System.out.println("ready");
            System.out.flush();
            while (in.readLine() != null) {
                print(s, "produce_requests", "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=Produce,*");
                print(s, "messages_in", "kafka.server:type=BrokerTopicMetrics,name=MessagesInPerSec,topic=" + topic);
                print(s, "bytes_in", "kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=" + topic);
                // Marked once per partition of each produce request that is
                // appended to the log: the partition batches.
                print(s, "partition_appends", "kafka.server:type=BrokerTopicMetrics,name=TotalProduceRequestsPerSec,topic=" + topic);
                System.out.println("end");
                System.out.flush();
            }
        }
    }

    // print writes the sum of the Count attribute of every MBean matching pattern.
    static void print(MBeanServerConnection s, String name, String pattern) throws Exception {
        long sum = 0;
        for (ObjectName n : s.queryNames(new ObjectName(pattern), null)) {
            sum += ((Number) s.getAttribute(n, "Count")).longValue();
        }
        System.out.println(name + " " + sum);
    }
}
