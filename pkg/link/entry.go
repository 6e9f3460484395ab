package link

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
)

// Entry is the image's entrypoint as the runtime will start it.
type Entry struct {
	// Argv is the image config's Entrypoint followed by its Cmd.
	Argv []string
	// Env is the image config's environment ("KEY=value"). PATH is used to
	// find a bare argv[0]; LD_LIBRARY_PATH is used by the library search.
	Env []string
	// WorkingDir is the image's working directory ("" means "/").
	WorkingDir string
}

// defaultPath is the PATH container runtimes use when the image sets none.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// maxScriptDepth is the kernel's limit on nested "#!" interpreters.
const maxScriptDepth = 4

var shells = map[string]bool{"sh": true, "bash": true, "dash": true, "ash": true, "zsh": true, "ksh": true, "mksh": true, "busybox": true}

// lookPath finds name as execve would after a shell-style PATH search: a
// name with a slash is used as is (relative to the working directory),
// a bare name is searched in PATH for an executable regular file. It
// returns the image path found and its resolved fs name.
func (im *image) lookPath(name, pathEnv string) (string, string, error) {
	check := func(p string) (string, error) {
		r, err := im.resolve(p)
		if err != nil {
			return "", err
		}
		fi, err := im.fsys.Lstat(r)
		if err != nil {
			return "", err
		}
		if !fi.Mode().IsRegular() {
			return "", fmt.Errorf("%s is not a regular file", p)
		}
		if fi.Mode().Perm()&0o111 == 0 {
			return "", fmt.Errorf("%s is not executable", p)
		}
		return r, nil
	}
	if name == "" {
		return "", "", fmt.Errorf("empty program name: %w", ErrEntrypointNotFound)
	}
	if strings.Contains(name, "/") {
		p := im.abs(name)
		r, err := check(p)
		if err != nil {
			return "", "", fmt.Errorf("find %q: %w (%v)", name, ErrEntrypointNotFound, err)
		}
		return p, r, nil
	}
	var why []string
	for _, d := range strings.Split(pathEnv, ":") {
		if d == "" {
			d = "."
		}
		p := path.Join(im.abs(d), name)
		r, err := check(p)
		if err == nil {
			return p, r, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			why = append(why, err.Error())
		}
	}
	msg := fmt.Sprintf("find %q in PATH %q: %v", name, pathEnv, ErrEntrypointNotFound)
	if len(why) > 0 {
		msg += " (" + strings.Join(why, "; ") + ")"
	}
	return "", "", wrapMsg{msg, ErrEntrypointNotFound}
}

// wrapMsg is an error with a custom message that unwraps to err.
type wrapMsg struct {
	msg string
	err error
}

func (w wrapMsg) Error() string { return w.msg }
func (w wrapMsg) Unwrap() error { return w.err }

// parseShebang parses the "#!" line the way the kernel does: the
// interpreter up to the first blank, then at most one argument (the rest of
// the line, trimmed).
func parseShebang(head []byte) (interp, arg string, ok bool) {
	if !bytes.HasPrefix(head, []byte("#!")) {
		return "", "", false
	}
	line := head[2:]
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	s := strings.Trim(string(line), " \t\r")
	interp, arg, _ = strings.Cut(strings.ReplaceAll(s, "\t", " "), " ")
	return interp, strings.TrimSpace(arg), true
}

// envCommand returns the command "#!/usr/bin/env ARGS" runs: the first
// argument that is neither an option nor an assignment.
func envCommand(arg string) string {
	fields := strings.Fields(arg)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		switch {
		case f == "-u" || f == "--unset" || f == "-C" || f == "--chdir":
			i++ // option with a value
		case strings.HasPrefix(f, "-"), strings.Contains(f, "="):
		default:
			return f
		}
	}
	return ""
}

// resolveEntry finds the ELF program the entrypoint runs.
func (im *image) resolveEntry(e Entry) (EntryInfo, string, []Finding, error) {
	info := EntryInfo{Argv: append([]string(nil), e.Argv...)}
	var findings []Finding
	pathEnv, ok := lookupEnv(e.Env, "PATH")
	if !ok {
		pathEnv = defaultPath
	}
	argv0 := e.Argv[0]
	if shells[path.Base(argv0)] && len(e.Argv) >= 3 && e.Argv[1] == "-c" {
		f := Finding{Code: CodeShellForm, Severity: SeverityInfo, Details: []string{e.Argv[2]},
			Message: fmt.Sprintf("the command runs through '%s -c' (shell form): the shell stays as the enclave's first process and starts the command with fork + exec inside the enclave", argv0),
			Fix:     `use the exec form, e.g. ENTRYPOINT ["/usr/sbin/nginx", "-g", "daemon off;"], or start the shell command with 'exec', so the service is the first process and receives the container's signals`}
		if cmd := strings.TrimSpace(e.Argv[2]); strings.HasPrefix(cmd, "exec ") && !strings.ContainsAny(cmd, ";&|`\n") {
			f.Severity = SeverityInfo
			f.Message = fmt.Sprintf("the command runs through '%s -c' (shell form) and the shell execs it: no fork needed", argv0)
			f.Fix = ""
		}
		findings = append(findings, f)
	}
	p, real, err := im.lookPath(argv0, pathEnv)
	if err != nil {
		return info, "", nil, fmt.Errorf("resolve entrypoint: %w", err)
	}
	for depth := 0; ; depth++ {
		of, err := openResolved(im.fsys, real, im.maxFileSize)
		if err != nil {
			return info, "", nil, fmt.Errorf("open entrypoint %q: %w", p, err)
		}
		head := make([]byte, 256)
		n, _ := of.r.ReadAt(head, 0)
		of.Close()
		head = head[:n]
		if bytes.HasPrefix(head, []byte("\x7fELF")) {
			info.Program = toImagePath(real)
			return info, real, findings, nil
		}
		interp, arg, ok := parseShebang(head)
		if !ok {
			return info, "", nil, fmt.Errorf("entrypoint %q is neither an ELF file nor a #! script: %w", p, ErrNotELF)
		}
		if interp == "" {
			return info, "", nil, fmt.Errorf("entrypoint script %q has an empty #! line: %w", p, ErrNotELF)
		}
		if depth >= maxScriptDepth {
			return info, "", nil, fmt.Errorf("entrypoint %q: more than %d nested #! interpreters: %w", toImagePath(real), maxScriptDepth, ErrNotELF)
		}
		s := Script{Path: p, Interpreter: interp}
		if arg != "" {
			s.Args = []string{arg}
		}
		info.Scripts = append(info.Scripts, s)
		ip, ireal, err := im.lookPath(im.abs(interp), "")
		if err != nil {
			return info, "", nil, fmt.Errorf("resolve interpreter %q of script %q: %w", interp, p, err)
		}
		run := interp
		if path.Base(interp) == "env" {
			if cmd := envCommand(arg); cmd != "" {
				ip, ireal, err = im.lookPath(cmd, pathEnv)
				if err != nil {
					return info, "", nil, fmt.Errorf("resolve %q run by %s of script %q: %w", cmd, interp, p, err)
				}
				run = cmd
			}
		}
		fix := ""
		if shells[path.Base(run)] {
			fix = "a shell script starts most commands as new processes (fork + exec inside the enclave, ~0.1 ms each): for a long-running service, end the script with 'exec PROGRAM ...' so the program replaces the shell"
		}
		findings = append(findings, Finding{Code: CodeScript, Severity: SeverityInfo, Path: p,
			Message: fmt.Sprintf("%s is a #! script run by %s; the interpreter %s is what is analysed", p, interp, ip), Fix: fix})
		p, real = ip, ireal
	}
}
