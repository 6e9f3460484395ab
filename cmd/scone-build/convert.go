package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/convert"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
	"github.com/scone-build/scone-build/pkg/fsprotect"
	"github.com/scone-build/scone-build/pkg/imageref"
	"github.com/scone-build/scone-build/pkg/link"
	"github.com/scone-build/scone-build/pkg/rootfs"
	"github.com/scone-build/scone-build/pkg/runtimebin"
	"github.com/scone-build/scone-build/pkg/sconeimage"
)

type convertOptions struct {
	imageFlags
	src, dst      string
	keyFile       string
	signCmd       string
	signerPub     string
	fsKeyFile     string
	heap, stack   string
	threads       uint32
	console       bool
	hostEnv       []string
	hostArgs      bool
	transport     string
	scheduler     string
	exitCycles    uint64
	volumes       []string
	pvolumes      []string
	debug         bool
	isvProdID     uint16
	isvSVN        uint16
	force         bool
	sourceConfig  string
	json          bool
	unsigned      bool
	cas, casID    string
	policy        string
	register      registerFlags
	fsSalt        string   // "", "layers" or "tree"
	fsCompression string   // none, lz4, lz4hc
	fsDictionary  string   // image, none
	fsChunkSize   int      // bytes per content chunk
	tls           tlsFlags // tls.go
	noRewrite     bool

	fsKeyIdentity fskey.Identity // what the --fs-key file expects (set by libraryOptions)
}

func newConvertCmd(a *app) *cobra.Command {
	var o convertOptions
	cmd := &cobra.Command{
		Use:   "convert SRC DST",
		Short: "Convert an image into a confidential (SGX) image",
		Long: `Convert SRC into DST: flatten SRC's layers, check its binaries, encrypt and
authenticate its file system into a protected FS image, measure and sign the
enclave, and write an image whose entrypoint is the scone-run runtime.

SRC and DST are image references:
  nginx:1.25, localhost:5000/app:v1   registry (http for localhost; --insecure otherwise)
  oci:DIR[:TAG]                       OCI image layout
  docker-archive:FILE[:NAME:TAG]      docker save format (podman load -i FILE)
  dir:PATH                            root file system directory as SRC (with
                                      --source-config), or DIR/rootfs + DIR/config.json as DST`,
		Example: `  scone-build keygen --out-dir keys
  scone-build convert oci:images/nginx:latest docker-archive:nginx-scone.tar \
      --key keys/signer.pem --fs-key keys/fs.key`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.src, o.dst = args[0], args[1]
			return runConvert(cmd.Context(), a, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.keyFile, "key", "", "enclave signer key (PEM, RSA-3072, e=3; see 'scone-build keygen')")
	f.StringVar(&o.signCmd, "sign-cmd", "", "sign with this external command instead of --key (run with sh -c; bytes to sign on stdin, signature on stdout); needs --signer-pub")
	f.StringVar(&o.signerPub, "signer-pub", "", "public key (PEM) of the external signer used with --sign-cmd")
	f.StringVar(&o.fsKeyFile, "fs-key", "", "file-system key file (see 'scone-build keygen', docs/keys.md)")
	o.imageFlags.addTo(f)
	f.StringVar(&o.heap, "heap", "", "enclave heap size (e.g. 256M, 4G; default 1G): the memory each process of the application may map")
	f.StringVar(&o.stack, "stack", "", "stack size per thread (default 8M)")
	f.Uint32Var(&o.threads, "threads", 0, "maximum number of enclave threads (default 64)")
	f.BoolVar(&o.console, "console-shield", false, "encrypt stdout/stderr (read them with 'scone-build console decrypt')")
	f.StringSliceVar(&o.hostEnv, "host-env", nil, "environment variable NAME the host may set at run time (repeatable; default: none)")
	f.BoolVar(&o.hostArgs, "host-args", false, "let the host replace the program's arguments at run time")
	f.StringVar(&o.transport, "transport", "sync", "syscall transport: sync or async")
	f.StringVar(&o.scheduler, "scheduler", "os", "thread scheduler: os (a kernel thread per application thread) or mn (user-level threads on --threads enclave threads, docs/runtime.md)")
	f.Uint64Var(&o.exitCycles, "exit-cycles", enclave.DefaultExitCycles, "simulated enclave-exit cost in cycles (sim mode, sync transport)")
	f.StringSliceVar(&o.volumes, "volume", nil, "host PATH passed through unprotected to the application (repeatable)")
	f.StringArrayVar(&o.pvolumes, "protected-volume", nil, "PATH where the application's files are stored on the host encrypted and authenticated (repeatable; docs/volume.md)")
	f.BoolVar(&o.debug, "debug-enclave", false, "set the SIGSTRUCT DEBUG attribute (never for production)")
	f.Uint16Var(&o.isvProdID, "isv-prodid", 0, "SIGSTRUCT ISVPRODID")
	f.Uint16Var(&o.isvSVN, "isv-svn", 0, "SIGSTRUCT ISVSVN")
	f.BoolVar(&o.noRewrite, "no-rewrite", false, "keep the programs' system call sites as they are (every call traps into the runtime); by default they are rewritten for the runtime's fast path (docs/rewrite.md)")
	f.BoolVar(&o.force, "force", false, "convert even if the entrypoint is unsupported (see 'scone-build check')")
	f.StringVar(&o.sourceConfig, "source-config", "", "OCI image config JSON of a dir: SRC")
	f.BoolVar(&o.json, "json", false, "print a machine-readable report on stdout")
	f.BoolVar(&o.unsigned, "unsigned", false, "leave the SIGSTRUCT unsigned for detached signing (see 'scone-build sign-data')")
	f.StringVar(&o.fsSalt, "fs-salt", "", "what the protected FS image's salt comes from: layers (image SRC, the default: contents are encrypted while layers decompress) or tree (the default for dir: SRC; gives the MRENCLAVE the BuildKit frontend gives for the same files); docs/fsprotect.md")
	f.StringVar(&o.fsDictionary, "fs-dictionary", "image", "with compression, what chunks are compressed against: image (a 64 KiB dictionary trained from the image's own contents, carried encrypted in the FS image: ~10% smaller images, read as fast) or none; docs/fsprotect.md")
	f.IntVar(&o.fsChunkSize, "fs-chunk-size", fsprotect.DefaultChunkSize, "bytes of file content per encrypted (and compressed) chunk: a power of two from 4096 to 1048576; larger chunks compress better (nginx with lz4hc: 1.29x its source at 4096, 1.25x at 8192) but every read decrypts whole chunks (a random 4 KiB read costs about one chunk); docs/fsprotect.md")
	f.StringVar(&o.fsCompression, "fs-compression", "lz4", "how the protected FS image stores file contents: lz4 (compress each chunk before encrypting it; chunks that do not shrink are stored as they are), lz4hc (smaller, slower to convert, read as fast) or none (every chunk as it is: a chunk's stored length then says nothing about its content); docs/fsprotect.md")
	f.StringVar(&o.cas, "cas", "", "CAS HOST:PORT the enclave gets its secrets from at start-up (with --cas-id and --policy; docs/cas.md)")
	f.StringVar(&o.casID, "cas-id", "", "the CAS's identity: SHA-256 of its DER public key, 64 hex digits ('GET /v1/id' of the CAS)")
	f.StringVar(&o.policy, "policy", "", "the CAS policy whose secrets the enclave receives; put the --fs-key key into it as the fs_key grant")
	o.register.addTo(f)
	o.tls.addTo(f)
	return cmd
}

func (o *convertOptions) libraryOptions(ctx context.Context, a *app) ([]convert.Option, error) {
	opts := []convert.Option{convert.WithRewrite(!o.noRewrite)}
	switch {
	case o.unsigned && (o.signCmd != "" || o.keyFile != ""):
		return nil, usagef("--unsigned excludes --key and --sign-cmd")
	case o.unsigned:
		opts = append(opts, convert.WithUnsigned())
	case o.signCmd != "" && o.keyFile != "":
		return nil, usagef("--key and --sign-cmd exclude each other")
	case o.signCmd != "":
		if o.signerPub == "" {
			return nil, usagef("--sign-cmd needs --signer-pub FILE (the signer's public key)")
		}
		pub, err := enclave.LoadPublicKey(o.signerPub)
		if err != nil {
			return nil, keyFileError{"--signer-pub", err}
		}
		s, err := enclave.NewCommandSigner(pub, "/bin/sh", "-c", o.signCmd)
		if err != nil {
			return nil, err
		}
		opts = append(opts, convert.WithSigner(s))
	case o.keyFile != "":
		s, err := enclave.LoadKeySigner(o.keyFile)
		if err != nil {
			return nil, keyFileError{"--key", err}
		}
		opts = append(opts, convert.WithSigner(s))
	}
	if err := o.register.check(o); err != nil {
		return nil, err
	}
	if o.fsKeyFile != "" {
		kf, err := fskey.Load(o.fsKeyFile)
		if err != nil {
			return nil, keyFileError{"--fs-key", err}
		}
		o.fsKeyIdentity = kf.Identity
		opts = append(opts, convert.WithFSKey(kf.Key))
	}
	if o.cas != "" || o.casID != "" || o.policy != "" {
		opt, err := o.casOption()
		if err != nil {
			return nil, err
		}
		opts = append(opts, opt)
	}
	for _, s := range []struct {
		flag, v string
		set     func(uint64) convert.Option
	}{{"--heap", o.heap, convert.WithHeapSize}, {"--stack", o.stack, convert.WithStackSize}} {
		if s.v == "" {
			continue
		}
		n, err := parseSize(s.v)
		if err != nil {
			return nil, usagef("%s %q: %v", s.flag, s.v, err)
		}
		opts = append(opts, s.set(n))
	}
	tr, err := enclave.ParseTransport(o.transport)
	if err != nil {
		return nil, usagef("--transport %q: want sync or async", o.transport)
	}
	sched, err := enclave.ParseScheduler(o.scheduler)
	if err != nil {
		return nil, usagef("--scheduler %q: want os or mn", o.scheduler)
	}
	opts = append(opts,
		convert.WithScheduler(sched),
		convert.WithMaxThreads(o.threads),
		convert.WithConsoleShield(o.console),
		convert.WithHostEnv(o.hostEnv...),
		convert.WithHostArgs(o.hostArgs),
		convert.WithTransport(tr, o.exitCycles),
		convert.WithVolumes(o.volumes...),
		convert.WithProtectedVolumes(o.pvolumes...),
		convert.WithDebug(o.debug),
		convert.WithISV(o.isvProdID, o.isvSVN),
		convert.WithForce(o.force),
		convert.WithLogger(a.log),
		convert.WithDate(a.date),
	)
	tlsOpts, err := o.tls.options()
	if err != nil {
		return nil, err
	}
	opts = append(opts, tlsOpts...)
	return opts, nil
}

// casOption checks --cas, --cas-id and --policy: all three or none.
func (o *convertOptions) casOption() (convert.Option, error) {
	if o.cas == "" || o.casID == "" || o.policy == "" {
		return nil, usagef("--cas, --cas-id and --policy go together: the CAS's address, its identity and the policy")
	}
	if err := enclave.CheckCASAddress(o.cas); err != nil {
		return nil, usagef("--cas: %v", err)
	}
	id, err := hex.DecodeString(o.casID)
	if err != nil || len(id) != 32 || [32]byte(id) == [32]byte{} {
		return nil, usagef("--cas-id %q: want the CAS ID, 64 hex digits (SHA-256 of the CAS's DER public key)", o.casID)
	}
	if err := enclave.CheckPolicyName(o.policy); err != nil {
		return nil, usagef("--policy: %v", err)
	}
	return convert.WithCAS(o.cas, [32]byte(id), o.policy), nil
}

func runConvert(ctx context.Context, a *app, o *convertOptions) error {
	start := time.Now()
	src, err := o.ref(o.src)
	if err != nil {
		return err
	}
	dst, err := o.ref(o.dst)
	if err != nil {
		return err
	}
	refOpts, err := o.options()
	if err != nil {
		return err
	}
	if src.Transport != imageref.Dir && o.sourceConfig != "" {
		return usagef("--source-config only applies to a dir: SRC")
	}
	if src.Transport == imageref.Dir && o.sourceConfig == "" {
		return usagef("a dir: SRC needs --source-config FILE (its OCI image config JSON)")
	}
	opts, err := o.libraryOptions(ctx, a)
	if err != nil {
		return err
	}
	// --cas-register: the owner key and the policy are checked before the
	// build; the FS key is made here and lives in memory and the policy only.
	reg, err := o.register.prepare(ctx, o)
	if err != nil {
		return err
	}
	if reg != nil {
		opts = append(opts, convert.WithFSKey(reg.fsKey))
		defer reg.wipe()
	}
	prog := newProgress(a.stderr, !o.json)
	defer prog.done()
	opts = append(opts, convert.WithProgress(prog.update))
	comp, err := fsprotect.ParseCompression(o.fsCompression)
	if err != nil {
		return usagef("--fs-compression %q: want one of %s", o.fsCompression, strings.Join(fsprotect.CompressionNames(), ", "))
	}
	opts = append(opts, convert.WithFSCompression(comp))
	if n := o.fsChunkSize; n < fsprotect.MinChunkSize || n > fsprotect.MaxChunkSize || n&(n-1) != 0 {
		return usagef("--fs-chunk-size %d: want a power of two from %d to %d (4096, 8192, 16384, ...)", n, fsprotect.MinChunkSize, fsprotect.MaxChunkSize)
	}
	if o.fsChunkSize != fsprotect.DefaultChunkSize {
		opts = append(opts, convert.WithFSChunkSize(o.fsChunkSize))
	}
	switch o.fsDictionary {
	case "image":
	case "none":
		opts = append(opts, convert.WithFSDictionary(false))
	default:
		return usagef("--fs-dictionary %q: want image or none", o.fsDictionary)
	}
	switch o.fsSalt {
	case "", "layers":
		if o.fsSalt != "" && src.Transport == imageref.Dir {
			return usagef("--fs-salt layers needs an image SRC: a dir: SRC has no layers (its salt comes from the tree)")
		}
	case "tree":
		opts = append(opts, convert.WithFSTreeSalt())
	default:
		return usagef("--fs-salt %q: want layers or tree", o.fsSalt)
	}

	var source *convert.Source
	if src.Transport == imageref.Dir {
		cf, err := convert.ReadConfigFile(o.sourceConfig)
		if err != nil {
			return err
		}
		source = convert.FromDir(src.Path, cf, o.src)
	} else {
		srcImg, err := imageref.Open(ctx, src, refOpts...)
		if err != nil {
			return err
		}
		if source, err = convert.FromImage(srcImg, o.src); err != nil {
			return err
		}
	}
	if dst.Transport == imageref.Dir && src.Transport != imageref.Dir {
		return usagef("a dir: DST needs a dir: SRC (write images to oci:, docker-archive: or a registry)")
	}
	res, err := convert.Build(ctx, source, opts...)
	if err != nil {
		return err
	}
	report := res.Report
	if err := o.checkKeyIdentity(a, report); err != nil {
		return err
	}
	if reg != nil {
		// before publishing: an image whose key did not reach the CAS could never run
		prog.update(convert.Progress{Stage: "register"})
		if err := reg.register(ctx, a, report); err != nil {
			return err
		}
	}
	prog.update(convert.Progress{Stage: "write"})
	report.Destination = o.dst
	if err := publish(ctx, res, dst, refOpts); err != nil {
		return err
	}
	prog.done()
	report.Timings["total"] = time.Since(start).Seconds()
	if o.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(report)
	}
	fmt.Fprintf(a.stdout, "converted %s -> %s\n", o.src, o.dst)
	if report.Digest != "" {
		fmt.Fprintf(a.stdout, "  digest     %s\n", report.Digest)
	}
	fmt.Fprintf(a.stdout, "  MRENCLAVE  %s\n  MRSIGNER   %s\n  FS root    %s\n", report.MRENCLAVE, report.MRSIGNER, report.FSRoot)
	fmt.Fprintf(a.stdout, "  program    %s (%s)\n", report.Entrypoint, verdictOf(report.Compatibility))
	if c := report.CAS; c != nil {
		fmt.Fprintf(a.stdout, "  CAS        %s, policy %s, CAS ID %s\n", c.Address, c.Policy, c.ID)
		if c.PolicyVersion != "" {
			fmt.Fprintf(a.stdout, "  policy     %s version %s (registered: the FS key is in the policy only)\n", c.Policy, c.PolicyVersion)
		}
	}
	if rw := report.Rewrite; rw != nil {
		files := "files"
		if len(rw.Files) == 1 {
			files = "file"
		}
		fmt.Fprintf(a.stdout, "  rewrite    %d system call sites rewritten for the fast path, %d left to the trap, in %d %s\n",
			rw.Rewritten, rw.Left, len(rw.Files), files)
	}
	fmt.Fprintf(a.stdout, "  files      %d files, %d dirs, %d symlinks, %s in, %s protected FS image\n",
		report.Files, report.Dirs, report.Symlinks, humanBytes(report.BytesIn), humanBytes(report.FSImageBytes))
	for _, d := range report.Dropped {
		fmt.Fprintf(a.stderr, "scone-build: note: dropped %s\n", d)
	}
	if len(report.Notes) > 0 {
		fmt.Fprintf(a.stderr, "scone-build: note: %d unusual entries in the source (see --json notes)\n", len(report.Notes))
	}
	return nil
}

// publish writes the converted image to dst: a directory (rootfs and
// config.json) or an image reference, whose digest goes into the report.
func publish(ctx context.Context, res *convert.Result, dst imageref.Ref, refOpts []imageref.Option) error {
	if dst.Transport == imageref.Dir {
		return res.Image.WriteDir(dst.Path)
	}
	img, err := res.OCIImage()
	if err != nil {
		return err
	}
	return imageref.Write(ctx, dst, img, refOpts...)
}

func verdictOf(r *link.Report) string {
	if r == nil {
		return "not analysed"
	}
	return string(r.Verdict)
}

// keyFileError marks a key file that could not be used, whatever the reason
// (missing, unreadable, malformed, wrong kind of key).
type keyFileError struct {
	flag string
	err  error
}

func (e keyFileError) Error() string { return e.err.Error() }
func (e keyFileError) Unwrap() error { return e.err }

func keyHint(e keyFileError) string {
	switch e.flag {
	case "--fs-key":
		return "--fs-key must name a readable FS key file (docs/keys.md); 'scone-build keygen' makes one"
	case "--signer-pub":
		return "--signer-pub must name the signer's RSA-3072 (e=3) public key in PEM"
	}
	return "--key must name a readable PEM RSA-3072 key with public exponent 3; 'scone-build keygen' makes one"
}

func convertHints(err error) (int, string, bool) {
	var kfe keyFileError
	if errors.As(err, &kfe) {
		return exitKey, keyHint(kfe), true
	}
	var pe *imageref.PlatformError
	var le *rootfs.LayerError
	var ie *link.IncompatibleError
	switch {
	case errors.Is(err, convert.ErrNoSigner):
		return exitKey, "pass --key FILE with the enclave signer key (create one with 'scone-build keygen'), or --sign-cmd with --signer-pub", true
	case errors.Is(err, convert.ErrNoFSKey):
		return exitKey, "pass --fs-key FILE (create one with 'scone-build keygen'); the key never goes into the image", true
	case errors.Is(err, convert.ErrNoEntrypoint):
		return exitBadInput, "the image must say what to run: set ENTRYPOINT or CMD in its Dockerfile", true
	case errors.Is(err, convert.ErrTLSFile):
		return exitBadInput, "--tls-cert, --tls-key and the other TLS files are paths inside the image: add the files to the image (e.g. COPY in its Dockerfile), or, with --cas, have the policy place them (grants.files)", true
	case errors.Is(err, convert.ErrUser):
		return exitBadInput, "the image's USER must exist in its /etc/passwd (or be numeric, as in USER 1000:1000)", true
	case errors.Is(err, link.ErrEntrypointNotFound):
		return exitBadInput, "the image's ENTRYPOINT/CMD names a program that is not in the image (check the path and PATH)", true
	case errors.Is(err, link.ErrNotELF):
		return exitBadInput, "the entrypoint must be an x86-64 ELF program or a #! script whose interpreter is one", true
	case errors.As(err, new(*link.FormatError)):
		return exitBadInput, "the entrypoint is a malformed ELF file: rebuild the image", true
	case errors.As(err, new(*link.UnsupportedError)):
		return exitBadInput, "SGX runs only x86-64 ELF programs", true
	case errors.As(err, &ie):
		return exitCompatibility, "run 'scone-build check SRC' for the full report; --force converts anyway", true
	case errors.As(err, &pe):
		return exitBadInput, "SGX runs only linux/amd64 programs: use an amd64 image (--platform linux/amd64)", true
	case errors.As(err, &le):
		return exitBadInput, "the source image has a corrupt layer: rebuild or re-pull it", true
	case errors.Is(err, imageref.ErrInvalidReference):
		return exitUsage, "references look like nginx:1.25, localhost:5000/app:v1, oci:DIR[:TAG], docker-archive:FILE[:NAME:TAG] or dir:PATH", true
	case imageref.IsNotFound(err):
		return exitBadInput, "no such image: check the repository and tag (for oci: layouts, the tag after the colon; for docker-archive:, the file)", true
	case errors.Is(err, runtimebin.ErrNotBuilt):
		return exitInternal, "build scone-build with 'make build' (it embeds the runtime); a plain 'go build' cannot convert", true
	case errors.Is(err, enclave.ErrKey):
		return exitKey, "the signer key must be an RSA-3072 key with public exponent 3 (PEM); 'scone-build keygen' makes one", true
	case errors.Is(err, imageref.ErrCorrupt):
		return exitBadInput, "the input is not a complete image (docker save / podman save output, or an OCI layout): recreate it", true
	case errors.Is(err, io.ErrUnexpectedEOF):
		return exitBadInput, "an input ended early: is the file complete?", true
	case errors.Is(err, sconeimage.ErrDirNotEmpty):
		return exitIO, "a dir: output is never overwritten: remove the directory or name a new one", true
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		return exitIO, "", true
	}
	return 0, "", false
}

// checkKeyIdentity refuses, before anything is written, an image whose
// identity the --fs-key file does not accept: the runtime would refuse to
// run it. A bare key or MRENCLAVE values that do not name this build only
// get a note.
func (o *convertOptions) checkKeyIdentity(a *app, r *convert.Report) error {
	if o.fsKeyFile == "" {
		return nil
	}
	id := o.fsKeyIdentity
	if o.cas != "" {
		fmt.Fprintf(a.stderr, "scone-build: note: the runtime gets the FS key from the CAS, never from the host: put the key of %s "+
			"into policy %s as a value secret granted as fs_key (docs/cas.md)\n", o.fsKeyFile, o.policy)
		return nil
	}
	if id.IsZero() {
		fmt.Fprintf(a.stderr, "scone-build: note: %s is a bare key that names no enclave identity: the runtime refuses it "+
			"unless the deployer sets SCONE_EXPECTED_MRSIGNER; record the signer with 'scone-build key pin %s --signer-pub PUB'\n",
			o.fsKeyFile, o.fsKeyFile)
		return nil
	}
	var e fskey.Enclave
	mre, err1 := hex.DecodeString(r.MRENCLAVE)
	mrs, err2 := hex.DecodeString(r.MRSIGNER)
	if err1 != nil || len(mre) != 32 {
		return fmt.Errorf("checking the FS key's identity: report MRENCLAVE %q is not 32 bytes of hex", r.MRENCLAVE)
	}
	e.MRENCLAVE = [32]byte(mre)
	e.ISVProdID, e.ISVSVN = o.isvProdID, o.isvSVN
	if o.unsigned || err2 != nil || len(mrs) != 32 {
		// Not signed yet: the signer is checked when the signature is attached.
		id.MRSIGNER = nil
		if id.IsZero() {
			return nil
		}
	} else {
		e.MRSIGNER = [32]byte(mrs)
	}
	err := id.Check(e)
	var ie *fskey.IdentityError
	if errors.As(err, &ie) && ie.Field == "mrenclave" {
		fmt.Fprintf(a.stderr, "scone-build: note: %s lists MRENCLAVE values and this image's (%s) is not among them: "+
			"the runtime will refuse it until you add it ('scone-build key pin %s --add --mrenclave %s')\n",
			o.fsKeyFile, r.MRENCLAVE, o.fsKeyFile, r.MRENCLAVE)
		return nil
	}
	if err != nil {
		return identityMismatchError{fmt.Errorf("checking the enclave identity that FS key file %q expects: %w", o.fsKeyFile, err)}
	}
	return nil
}
