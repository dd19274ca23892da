// Creates Kafka ACLs with the Admin client of kafka-clients (aiokafka has no ACL API).
// Run with the broker jars (ops/stack/kafka_security.py does):
//   java -cp '<jar cache>/*' ops/kafka/CreateAcls.java CLIENT_PROPERTIES ACL_FILE
// ACL_FILE: one ACL a line, tab-separated:
//   principal  resource_type  resource_name  pattern_type  operation
// e.g. User:gateway  TOPIC  tally.events  LITERAL  WRITE  (always ALLOW, any host).
import java.io.FileInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class CreateAcls {
    public static void main(String[] args) throws Exception {
        Properties client = new Properties();
        try (FileInputStream in = new FileInputStream(args[0])) {
            client.load(in);
        }
        List<AclBinding> bindings = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            ResourcePattern pattern = new ResourcePattern(
                ResourceType.fromString(f[1]), f[2], PatternType.fromString(f[3]));
            AccessControlEntry entry = new AccessControlEntry(
                f[0], "*", AclOperation.fromString(f[4]), AclPermissionType.ALLOW);
            bindings.add(new AclBinding(pattern, entry));
        }
        try (Admin admin = Admin.create(client)) {
            admin.createAcls(bindings).all().get();
        }
        System.out.println("created " + bindings.size() + " ACLs");
    }
}
