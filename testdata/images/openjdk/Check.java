// Converted-vs-native comparison program for the openjdk image (test/e2e
// TestConvertedMatchesNative), run with the JDK's source launcher
// (`java Check.java`: javac in memory, then the program). Threads, locks,
// java.util.concurrent, files, a child process, loopback HTTP, hashing and
// garbage collection under pressure. The output is deterministic: no
// times, ports, pids or hash orders.
import com.sun.net.httpserver.HttpServer;
import java.io.*;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.MessageDigest;
import java.util.*;
import java.util.concurrent.*;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.*;

public class Check {
    static final List<String> out = new ArrayList<>();

    static void say(Object... parts) {
        out.add(Arrays.stream(parts).map(String::valueOf).collect(Collectors.joining(" ")));
    }

    static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(String.format("%02x", x));
        return s.toString();
    }

    static void threads() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(16);
        List<Future<Long>> fs = new ArrayList<>();
        for (int t = 0; t < 64; t++) {
            final long base = t;
            fs.add(pool.submit(() -> {
                long s = 0;
                for (long i = 0; i < 200_000; i++) s += (i * base) % 7;
                return s;
            }));
        }
        long total = 0;
        for (Future<Long> f : fs) total += f.get();
        ConcurrentHashMap<Integer, Integer> m = new ConcurrentHashMap<>();
        CountDownLatch latch = new CountDownLatch(16);
        AtomicLong counter = new AtomicLong();
        for (int t = 0; t < 16; t++) {
            final int id = t;
            pool.submit(() -> {
                for (int i = 0; i < 10_000; i++) {
                    m.merge(i % 100, 1, Integer::sum);
                    counter.incrementAndGet();
                }
                latch.countDown();
                return id;
            });
        }
        latch.await();
        CompletableFuture<String> cf = CompletableFuture.supplyAsync(() -> "a", pool)
                .thenCombine(CompletableFuture.supplyAsync(() -> "b", pool), (a, b) -> a + b)
                .thenApplyAsync(String::toUpperCase, pool);
        say("threads", total, m.size(), m.values().stream().mapToInt(Integer::intValue).sum(), counter.get(), cf.get());
        pool.shutdown();
        say("pool terminated", pool.awaitTermination(30, TimeUnit.SECONDS));
    }

    static int shared = 0;

    static void monitors() throws Exception {
        final Object lock = new Object();
        final int[] turn = {0};
        Thread[] ts = new Thread[4];
        for (int t = 0; t < 4; t++) {
            final int me = t;
            ts[t] = new Thread(() -> {
                for (int round = 0; round < 500; round++) {
                    synchronized (lock) {
                        while (turn[0] % 4 != me) {
                            try { lock.wait(); } catch (InterruptedException e) { return; }
                        }
                        shared++;
                        turn[0]++;
                        lock.notifyAll();
                    }
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        say("wait/notify round robin", shared, turn[0]);
    }

    static void files() throws Exception {
        Path dir = Files.createTempDirectory("jcheck");
        for (int i = 0; i < 30; i++)
            Files.writeString(dir.resolve(String.format("f%02d.txt", i)), ("line " + i + "\n").repeat(i + 1));
        Files.move(dir.resolve("f00.txt"), dir.resolve("renamed.txt"));
        Files.delete(dir.resolve("f01.txt"));
        List<String> names;
        try (Stream<Path> s = Files.list(dir)) {
            names = s.map(p -> p.getFileName().toString()).sorted().collect(Collectors.toList());
        }
        long bytes = 0;
        for (String n : names) bytes += Files.size(dir.resolve(n));
        try (RandomAccessFile raf = new RandomAccessFile(dir.resolve("renamed.txt").toFile(), "rw")) {
            raf.seek(0);
            raf.write("LINE".getBytes(StandardCharsets.UTF_8));
        }
        say("files", names.size(), names.get(0), names.get(names.size() - 1), bytes,
                Files.readAllLines(dir.resolve("renamed.txt")).get(0));
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        say("deleted", !Files.exists(dir));
    }

    static void child() throws Exception {
        Process p = new ProcessBuilder("sh", "-c", "echo child out; echo child err >&2; exit 3").start();
        String o = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        String e = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        say("child", p.waitFor(), o, e);
    }

    static void http() throws Exception {
        HttpServer srv = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        srv.createContext("/", ex -> {
            byte[] body = ("hello " + ex.getRequestURI().getPath()).getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(200, body.length);
            try (OutputStream os = ex.getResponseBody()) { os.write(body); }
        });
        ExecutorService exec = Executors.newFixedThreadPool(4);
        srv.setExecutor(exec);
        srv.start();
        int port = srv.getAddress().getPort();
        HttpClient c = HttpClient.newHttpClient();
        int ok = 0;
        List<CompletableFuture<HttpResponse<String>>> rs = new ArrayList<>();
        for (int i = 0; i < 200; i++)
            rs.add(c.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/r" + i)).build(),
                    HttpResponse.BodyHandlers.ofString()));
        for (int i = 0; i < rs.size(); i++) {
            HttpResponse<String> r = rs.get(i).get();
            if (r.statusCode() == 200 && r.body().equals("hello /r" + i)) ok++;
        }
        srv.stop(0);
        exec.shutdown();
        say("http", ok, "of", rs.size());
    }

    static void gc() {
        long kept = 0;
        List<byte[]> live = new ArrayList<>();
        for (int i = 0; i < 400; i++) {
            byte[] b = new byte[1 << 19];
            b[i % b.length] = (byte) i;
            if (i % 50 == 0) { live.add(b); kept += b.length; }
        }
        System.gc();
        say("gc", live.size(), kept);
    }

    public static void main(String[] args) throws Exception {
        threads();
        monitors();
        files();
        child();
        http();
        gc();
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        say("sha256", hex(md.digest("scone".getBytes(StandardCharsets.UTF_8))).substring(0, 16));
        say("java", Runtime.version().feature(), "done");
        out.forEach(System.out::println);
        System.exit(0);
    }
}
