package etcdtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

var (
	once    sync.Once
	addr    string
	skip    string
	cmd     *exec.Cmd
	dir     string
	counter atomic.Int64
)

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the etcd of this test process once and returns its client
// URL, or "" and why the etcd tests must be skipped.
func Start() (string, string) {
	once.Do(func() {
		bin, err := exec.LookPath("etcd")
		if err != nil {
			skip = "SKIP: etcd is absent (Debian package etcd-server; scripts/setup.sh installs it): the etcd store is not tested"
			return
		}
		if dir, err = os.MkdirTemp("", "etcdtest"); err != nil {
			skip = err.Error()
			return
		}
		cp, err1 := freePort()
		pp, err2 := freePort()
		if err1 != nil || err2 != nil {
			skip = fmt.Sprintf("SKIP: no free port for etcd: %v %v", err1, err2)
			return
		}
		client := fmt.Sprintf("http://127.0.0.1:%d", cp)
		peer := fmt.Sprintf("http://127.0.0.1:%d", pp)
		cmd = exec.Command(bin, "--name", "t", "--data-dir", filepath.Join(dir, "data"),
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "t="+peer,
			"--unsafe-no-fsync", "--log-level", "error", "--logger", "zap")
		if err := cmd.Start(); err != nil {
			skip = fmt.Sprintf("SKIP: starting etcd: %v", err)
			return
		}
		c, err := clientv3.New(clientv3.Config{Endpoints: []string{client}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			skip = fmt.Sprintf("SKIP: etcd client: %v", err)
			return
		}
		defer c.Close()
		deadline := time.Now().Add(20 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := c.Get(ctx, "probe")
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				skip = fmt.Sprintf("SKIP: etcd did not start: %v", err)
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		addr = client
	})
	return addr, skip
}

// Prefix returns a key prefix no other caller in this process gets.
func Prefix(name string) string { return fmt.Sprintf("/%s-%d/", name, counter.Add(1)) }

// Stop ends the etcd Start started (call it from TestMain).
func Stop() {
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Kill()
		cmd.Wait()
	}
	if dir != "" {
		os.RemoveAll(dir)
	}
}
