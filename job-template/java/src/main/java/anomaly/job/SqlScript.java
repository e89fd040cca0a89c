package anomaly.job;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The `sql` group's text as statements: split on the semicolons that end them (not those inside quotes, identifiers
 * or comments), comments and blank statements dropped, each sorted by what the job does with it.
 */
final class SqlScript {
    /** What the job does with a statement. */
    enum Kind {
        /** {@code INSERT INTO ...}: added to the job. */
        INSERT,
        /** {@code SELECT}, {@code WITH}, {@code VALUES}: its rows are written to {@code anomalies}. */
        QUERY,
        /** Anything else ({@code CREATE TEMPORARY VIEW}, {@code CREATE FUNCTION} ...): run before the job is built. */
        OTHER
    }

    /** One statement and its kind. */
    static final class Statement {
        final String text;
        final Kind kind;

        Statement(String text, Kind kind) {
            this.text = text;
            this.kind = kind;
        }

        /** The table an INSERT writes to, without quotes; null for other kinds or when it cannot be read. */
        String target() {
            Matcher m = INSERT_TARGET.matcher(text);
            return kind == Kind.INSERT && m.lookingAt() ? m.group(1).replace("`", "") : null;
        }
    }

    private static final Pattern INSERT_TARGET =
            Pattern.compile("\\s*INSERT\\s+(?:INTO|OVERWRITE)\\s+((?:`[^`]+`|[\\w$]+)(?:\\.(?:`[^`]+`|[\\w$]+))*)", Pattern.CASE_INSENSITIVE);

    private SqlScript() {}

    /** The statements of {@code script}, in order. */
    static List<Statement> parse(String script) {
        List<Statement> statements = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        int i = 0;
        int n = script.length();
        while (i < n) {
            char c = script.charAt(i);
            if (c == '\'' || c == '"' || c == '`') {
                int end = closing(script, i, c);
                current.append(script, i, end);
                i = end;
            } else if (c == '-' && i + 1 < n && script.charAt(i + 1) == '-') {
                int end = script.indexOf('\n', i);
                i = end < 0 ? n : end;
                current.append(' ');
            } else if (c == '/' && i + 1 < n && script.charAt(i + 1) == '*') {
                int end = script.indexOf("*/", i + 2);
                if (end < 0) {
                    throw new IllegalArgumentException("property sql.statement: a /* comment is never closed");
                }
                i = end + 2;
                current.append(' ');
            } else if (c == ';') {
                add(statements, current);
                i++;
            } else {
                current.append(c);
                i++;
            }
        }
        add(statements, current);
        return statements;
    }

    /** The index after the quote that closes the one at {@code start} (a doubled quote is an escaped one). */
    private static int closing(String s, int start, char quote) {
        int i = start + 1;
        while (i < s.length()) {
            if (s.charAt(i) == quote) {
                if (i + 1 < s.length() && s.charAt(i + 1) == quote) {
                    i += 2;
                    continue;
                }
                return i + 1;
            }
            i++;
        }
        throw new IllegalArgumentException("property sql.statement: the " + quote + " opened at character " + (start + 1) + " is never closed");
    }

    private static void add(List<Statement> statements, StringBuilder current) {
        String text = current.toString().trim();
        current.setLength(0);
        if (text.isEmpty()) {
            return;
        }
        String first = text.split("[\\s(]+", 2)[0].toUpperCase(Locale.ROOT);
        Kind kind;
        switch (first) {
            case "INSERT":
                kind = Kind.INSERT;
                break;
            case "SELECT":
            case "WITH":
            case "VALUES":
                kind = Kind.QUERY;
                break;
            case "EXECUTE":
            case "BEGIN":
            case "END":
                throw new IllegalArgumentException("property sql.statement: write the INSERT statements one after another, separated"
                        + " by semicolons; the job runs them all as one statement set (no EXECUTE STATEMENT SET block needed)");
            default:
                kind = Kind.OTHER;
        }
        statements.add(new Statement(text, kind));
    }
}
