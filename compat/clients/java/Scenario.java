// PostgreSQL JDBC scenario of the client compatibility suite (pgjdbc from
// Debian's libpostgresql-jdbc-java). Prints `feature.detail: value` lines.
// prepareThreshold=1 makes pgjdbc switch to a named server-side statement
// (and binary transfer for the types it knows) from the first execution, so
// the "binary" round trip really uses binary results.
import java.sql.*;
import java.util.*;

public class Scenario {
    static String url(String extra) {
        String host = env("COMPAT_HOST", "127.0.0.1"), port = env("COMPAT_PORT", "5432");
        String db = env("COMPAT_DB", "compat");
        return "jdbc:postgresql://" + host + ":" + port + "/" + db + "?" + extra;
    }

    static String env(String k, String d) {
        String v = System.getenv(k);
        return v == null ? d : v;
    }

    static Properties props() {
        Properties p = new Properties();
        p.setProperty("user", env("COMPAT_USER", "compat"));
        p.setProperty("password", env("COMPAT_PASSWORD", "compat-pw"));
        return p;
    }

    static void out(String k, Object v) {
        System.out.println(k + ": " + v);
    }

    static String err(Exception e) {
        if (e instanceof SQLException && ((SQLException) e).getSQLState() != null) {
            System.err.println("ERROR " + ((SQLException) e).getSQLState() + ": " + e.getMessage());
            return "ERROR " + ((SQLException) e).getSQLState();
        }
        String m = String.valueOf(e.getMessage());
        return "ERROR " + e.getClass().getSimpleName() + ": " + m.split("\n")[0];
    }

    interface Check { Object run() throws Exception; }

    static void check(String k, Check c) {
        try {
            out(k, c.run());
        } catch (Exception e) {
            out(k, err(e));
        }
    }

    static String rows(ResultSet rs) throws SQLException {
        StringBuilder sb = new StringBuilder();
        int n = rs.getMetaData().getColumnCount();
        while (rs.next()) {
            if (sb.length() > 0) sb.append(",");
            for (int i = 1; i <= n; i++) {
                if (i > 1) sb.append("|");
                Object o = rs.getObject(i);
                if (o instanceof byte[]) {
                    StringBuilder h = new StringBuilder();
                    for (byte b : (byte[]) o) h.append(String.format("%02x", b));
                    sb.append(h);
                } else if (o instanceof java.sql.Array) {
                    sb.append(Arrays.deepToString((Object[]) ((java.sql.Array) o).getArray()));
                } else {
                    sb.append(rs.wasNull() ? "NULL" : o.getClass().getSimpleName() + ":" + o);
                }
            }
        }
        return sb.toString();
    }

    public static void main(String[] args) throws Exception {
        check("connect.tls", () -> {
            try (Connection c = DriverManager.getConnection(url("sslmode=require"), props())) {
                return rows(c.createStatement().executeQuery("SELECT 'ok'"));
            }
        });
        Connection c;
        try {
            c = DriverManager.getConnection(url("sslmode=disable&prepareThreshold=1"), props());
            out("connect.scram", "ok");
        } catch (SQLException e) {
            out("connect.scram", err(e));
            return;
        }
        Statement st = c.createStatement();
        st.execute("DROP TABLE IF EXISTS jd_items");
        check("ddl.create", () -> st.executeUpdate("CREATE TABLE jd_items (id int PRIMARY KEY, name text, qty int)"));
        check("crud.insert", () -> {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO jd_items VALUES (?, ?, ?)")) {
                Object[][] data = {{1, "a", 10}, {2, "b", null}, {3, null, 30}};
                for (Object[] r : data) {
                    ps.setInt(1, (Integer) r[0]);
                    ps.setString(2, (String) r[1]);
                    if (r[2] == null) ps.setNull(3, Types.INTEGER); else ps.setInt(3, (Integer) r[2]);
                    ps.addBatch();
                }
                return Arrays.toString(ps.executeBatch());
            }
        });
        check("crud.update", () -> {
            PreparedStatement ps = c.prepareStatement("UPDATE jd_items SET qty = qty + ? WHERE id = ?");
            ps.setInt(1, 5);
            ps.setInt(2, 1);
            return ps.executeUpdate();
        });
        check("crud.select", () -> {
            PreparedStatement ps = c.prepareStatement("SELECT * FROM jd_items WHERE id >= ? ORDER BY id");
            ps.setInt(1, 1);
            return rows(ps.executeQuery());
        });
        check("crud.delete", () -> st.executeUpdate("DELETE FROM jd_items WHERE id = 3"));
        check("nulls.select", () -> rows(st.executeQuery("SELECT NULL::int, NULL::text, NULL IS NULL")));

        check("txn.rollback", () -> {
            c.setAutoCommit(false);
            st.executeUpdate("INSERT INTO jd_items VALUES (10, 'x', 1)");
            c.rollback();
            String r = rows(st.executeQuery("SELECT count(*) FROM jd_items"));
            c.commit();
            return r;
        });
        check("savepoint.rows", () -> {
            st.executeUpdate("INSERT INTO jd_items VALUES (11, 'y', 1)");
            Savepoint sp = c.setSavepoint("s1");
            try {
                st.executeUpdate("INSERT INTO jd_items VALUES (1, 'dup', 1)");
            } catch (SQLException e) {
                out("savepoint.error", err(e));
            }
            c.rollback(sp);
            c.commit();
            c.setAutoCommit(true);
            return rows(st.executeQuery("SELECT id FROM jd_items WHERE id >= 10 ORDER BY id"));
        });
        check("prepared.reuse", () -> {
            PreparedStatement ps = c.prepareStatement("SELECT ?::int * 2");
            long s = 0;
            for (int i = 0; i < 200; i++) {
                ps.setInt(1, i);
                ResultSet rs = ps.executeQuery();
                rs.next();
                s += rs.getInt(1);
            }
            return s;
        });

        String[][] types = {
            {"int", "int4", "-42"}, {"bigint", "int8", "9007199254740993"}, {"numeric", "numeric", "12345.6789"},
            {"float", "float8", "0.0015"}, {"bool", "bool", "true"}, {"text", "text", "héllo 'q'"},
            {"bytea", "bytea", "\\x00ff10"}, {"date", "date", "2024-02-29"},
            {"timestamptz", "timestamptz", "2024-02-29 12:34:56.789+00"}, {"interval", "interval", "1 day 02:03:04"},
            {"uuid", "uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, {"json", "json", "{\"k\": true}"},
            {"jsonb", "jsonb", "{\"a\": [1, 2, null], \"b\": \"x\"}"}, {"int_array", "int4[]", "{1,NULL,3}"},
            {"text_array", "text[]", "{a,\"b c\"}"},
        };
        // Text: a literal through the simple protocol; binary: the same value
        // cast from a bound text parameter in a server-prepared statement
        // (prepareThreshold=1; pgjdbc asks for binary results it can decode).
        for (String[] t : types) {
            check("types." + t[0] + ".text", () -> rows(st.executeQuery(
                "SELECT '" + t[2].replace("'", "''") + "'::" + t[1])));
            check("types." + t[0] + ".binary", () -> {
                PreparedStatement ps = c.prepareStatement("SELECT ?::text::" + t[1]);
                String last = null;
                for (int i = 0; i < 3; i++) {
                    ps.setString(1, t[2]);
                    last = rows(ps.executeQuery());
                }
                return last;
            });
        }
        check("types.setters", () -> {
            PreparedStatement ps = c.prepareStatement("SELECT ?, ?, ?, ?, ?, ?");
            ps.setLong(1, 9007199254740993L);
            ps.setBigDecimal(2, new java.math.BigDecimal("12345.6789"));
            ps.setDouble(3, 0.0015);
            ps.setBoolean(4, true);
            ps.setBytes(5, new byte[]{0, (byte) 255, 16});
            ps.setObject(6, java.util.UUID.fromString("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"));
            return rows(ps.executeQuery());
        });

        check("errors.unique", () -> st.executeUpdate("INSERT INTO jd_items VALUES (1, 'dup', 0)"));
        check("errors.syntax", () -> st.executeQuery("SELEC 1"));
        check("errors.undefined_table", () -> st.executeQuery("SELECT * FROM jd_missing"));
        check("errors.division_by_zero", () -> {
            PreparedStatement ps = c.prepareStatement("SELECT 1/?");
            ps.setInt(1, 0);
            return rows(ps.executeQuery());
        });
        check("errors.after_error", () -> rows(st.executeQuery("SELECT 'alive'")));

        st.execute("DROP TABLE IF EXISTS jd_copy");
        st.execute("CREATE TABLE jd_copy (id int, t text)");
        check("copy.in", () -> {
            org.postgresql.copy.CopyManager cm = c.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
            return cm.copyIn("COPY jd_copy FROM STDIN", new java.io.StringReader("1\tone\n2\t\\N\n"));
        });
        check("copy.out", () -> {
            org.postgresql.copy.CopyManager cm = c.unwrap(org.postgresql.PGConnection.class).getCopyAPI();
            java.io.StringWriter w = new java.io.StringWriter();
            cm.copyOut("COPY (SELECT * FROM jd_copy ORDER BY id) TO STDOUT", w);
            return w.toString().replace("\n", "\\n");
        });

        check("cancel.query", () -> {
            Statement s2 = c.createStatement();
            Thread t = new Thread(() -> {
                try {
                    Thread.sleep(500);
                    s2.cancel();
                } catch (Exception ignored) {
                }
            });
            t.start();
            try {
                s2.executeQuery("SELECT pg_sleep(5)");
                return "not cancelled";
            } catch (SQLException e) {
                return err(e);
            } finally {
                t.join();
            }
        });
        check("cancel.timeout", () -> {
            Statement s3 = c.createStatement();
            s3.setQueryTimeout(1);
            try {
                s3.executeQuery("SELECT pg_sleep(5)");
                return "not cancelled";
            } catch (SQLException e) {
                return err(e);
            }
        });
        check("cancel.after", () -> rows(st.executeQuery("SELECT 'alive'")));
        check("service.options", () -> {
            try (Connection s = DriverManager.getConnection(
                    url("sslmode=disable&options=-c%20rustydb.service%3Dolap"), props())) {
                return rows(s.createStatement().executeQuery("SELECT 1"));
            }
        });
        st.execute("DROP TABLE IF EXISTS jd_items");
        st.execute("DROP TABLE IF EXISTS jd_copy");
        c.close();
    }
}
