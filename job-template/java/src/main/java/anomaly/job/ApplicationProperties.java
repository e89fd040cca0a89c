package anomaly.job;

import java.io.IOException;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.JsonNode;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.databind.ObjectMapper;

/**
 * Runtime property groups in Managed Service for Apache Flink's format:
 * {@code [{"PropertyGroupId": "...", "PropertyMap": {"key": "value", ...}}, ...]}. On Managed Flink the service writes
 * them to {@value #MANAGED_FLINK_PATH}; locally the same file is given with {@code --properties FILE}.
 */
public final class ApplicationProperties implements Serializable {
    private static final long serialVersionUID = 1L;
    /** Where Managed Service for Apache Flink puts the application's runtime properties. */
    public static final String MANAGED_FLINK_PATH = "/etc/flink/application_properties.json";

    private final Map<String, Map<String, String>> groups;

    private ApplicationProperties(Map<String, Map<String, String>> groups) {
        this.groups = groups;
    }

    /** Reads a property-group file. */
    public static ApplicationProperties fromFile(Path path) throws IOException {
        if (!Files.isRegularFile(path)) {
            throw new IOException("property file " + path + " does not exist; pass --properties FILE with the property groups"
                    + " (see job-template/README.md), or run on Managed Flink where " + MANAGED_FLINK_PATH + " is written for you");
        }
        try {
            return fromJson(Files.readString(path));
        } catch (IllegalArgumentException e) {
            throw new IOException("property file " + path + ": " + e.getMessage(), e);
        }
    }

    /** The Managed Flink property file. */
    public static ApplicationProperties managed() throws IOException {
        return fromFile(Paths.get(MANAGED_FLINK_PATH));
    }

    /** Parses property groups from JSON text. Values may be strings, numbers or booleans (all are read as text). */
    public static ApplicationProperties fromJson(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getMessage());
        }
        if (root == null || !root.isArray()) {
            throw new IllegalArgumentException("expected a JSON array of {\"PropertyGroupId\": ..., \"PropertyMap\": {...}} objects");
        }
        Map<String, Map<String, String>> groups = new LinkedHashMap<>();
        for (JsonNode group : root) {
            JsonNode id = group.get("PropertyGroupId");
            JsonNode map = group.get("PropertyMap");
            if (id == null || !id.isTextual() || map == null || !map.isObject()) {
                throw new IllegalArgumentException("every group needs a string PropertyGroupId and an object PropertyMap, got " + group);
            }
            if (groups.containsKey(id.asText())) {
                throw new IllegalArgumentException("property group `" + id.asText() + "` appears twice; merge its keys into one group");
            }
            Map<String, String> values = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> entry = it.next();
                JsonNode value = entry.getValue();
                if (!value.isValueNode() || value.isNull()) {
                    throw new IllegalArgumentException("property " + id.asText() + "." + entry.getKey()
                            + " must be a string (Managed Flink stores only strings), got " + value);
                }
                values.put(entry.getKey(), value.asText());
            }
            groups.put(id.asText(), Collections.unmodifiableMap(values));
        }
        return new ApplicationProperties(groups);
    }

    /** A group's properties; empty when the group is absent. */
    public Map<String, String> group(String id) {
        return groups.getOrDefault(id, Collections.emptyMap());
    }

    /** Whether the group is present. */
    public boolean has(String id) {
        return groups.containsKey(id);
    }
}
