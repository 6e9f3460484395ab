package e2e

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/scone-build/scone-build/internal/podmantest"
	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/convert"
)

// TestProcessesMatchNative: real images whose programs create processes
// (shell pipelines and command substitution, python's subprocess, a
// console-shielded shell pipeline) print the same converted as natively.
func TestProcessesMatchNative(t *testing.T) {
	e := setup(t)
	for _, tc := range []struct {
		name, image string
		argv        []string
		console     bool
	}{
		{"bash pipelines and substitution", "debian", []string{"/bin/bash", "-c",
			"set -e; n=$(ls /usr/lib | wc -l); echo \"$n entries\"; ls /usr/bin | grep -c . > /tmp/c; cat /tmp/c; " +
				"{ echo one; /bin/echo two; } > /tmp/o; cat /tmp/o | sort -r; (cd /tmp && mkdir d && mv o d/ && ls d); " +
				"sha256sum /etc/os-release | cut -c1-16; exit 7"}, false},
		{"python subprocess", "python3", []string{"python3", "-c",
			"import subprocess, os; print(subprocess.run(['ls', '/etc'], capture_output=True, text=True).stdout.count('\\n') > 5); " +
				"print(subprocess.check_output('echo hi | tr a-z A-Z', shell=True).decode().strip()); " +
				"open('/tmp/x', 'w').write('from parent'); print(subprocess.check_output(['cat', '/tmp/x']).decode()); " +
				"pid = os.fork()\nif pid == 0:\n    open('/tmp/y', 'w').write('from child'); os._exit(3)\n" +
				"print(os.waitpid(pid, 0)[1] >> 8, open('/tmp/y').read())"}, false},
		{"busybox pipeline with the console shield", "busybox", []string{"/bin/sh", "-c",
			"echo hello enclave | tr a-z A-Z; ls /etc | sort | head -3; echo err >&2"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := withCommand(t, e.image(t, tc.image), tc.argv)
			native := e.p.PullOCI(t, podmantest.WriteLayout(t, img, "native"), "native")
			wantOut, wantErr, wantCode := e.p.Run(t, native, podmantest.RunOpts{Network: "none"})
			var opts []convert.Option
			if tc.console {
				opts = append(opts, convert.WithConsoleShield(true))
			}
			conv, rep := e.convert(t, img, opts...)
			id := e.load(t, conv, "proc-"+strings.ReplaceAll(tc.image, "_", "-"))
			gotOut, gotErr, gotCode := e.runConverted(t, id)
			if tc.console {
				var outLog *console.Log
				gotOut, outLog = e.decrypt(t, gotOut, console.Stdout, rep)
				gotErr, _ = e.decrypt(t, gotErr, console.Stderr, rep)
				// The pipeline's stages that wrote (tr, head) are the
				// shell's children in the run its first session opened.
				children := 0
				for _, s := range outLog.Sessions[1:] {
					if s.ParentIndex == 0 && s.ForkCounter > 0 && s.Run == outLog.Run {
						children++
					}
				}
				if !outLog.Sessions[0].Root() || children < 2 {
					t.Fatalf("stdout sessions do not form one run with the shell's children: %+v", outLog.Sessions)
				}
			}
			if gotCode != wantCode || gotOut != wantOut || (tc.console && gotErr != wantErr) {
				t.Fatalf("converted run differs\n--- native (exit %d)\n%s\n%s\n--- converted (exit %d)\n%s\n--- converted stderr\n%s",
					wantCode, wantOut, wantErr, gotCode, gotOut, gotErr)
			}
		})
	}
}

// decrypt decodes a console log of the image rep describes, with the
// console key (not the FS key), requiring its MRENCLAVE and stream.
func (e *env) decrypt(t testing.TB, s string, stream console.Stream, rep *convert.Report) (string, *console.Log) {
	t.Helper()
	var plain bytes.Buffer
	log, err := console.Decrypt(&plain, strings.NewReader(s), e.consoleKey(t), stream, console.WithMRENCLAVE(mrenclave(t, rep)))
	if err != nil {
		t.Fatalf("decrypt %s: %v\n%s", stream, err, plain.String())
	}
	return plain.String(), log
}

func (e *env) consoleKey(t testing.TB) console.Key {
	t.Helper()
	k, err := console.DeriveKey(e.fx.FSKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mrenclave(t testing.TB, rep *convert.Report) [32]byte {
	t.Helper()
	b, err := hex.DecodeString(rep.MRENCLAVE)
	if err != nil || len(b) != 32 {
		t.Fatalf("report MRENCLAVE %q", rep.MRENCLAVE)
	}
	return [32]byte(b)
}
