package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/scone-build/scone-build/pkg/console"
	"github.com/scone-build/scone-build/pkg/enclave"
	"github.com/scone-build/scone-build/pkg/fskey"
)

// consoleKeyError marks a problem with the --console-key or --fs-key of the
// console commands.
type consoleKeyError struct {
	flag string
	err  error
}

func (e consoleKeyError) Error() string { return e.err.Error() }
func (e consoleKeyError) Unwrap() error { return e.err }

type consoleDecryptOptions struct {
	imageFlags
	consoleKey string
	fsKey      string
	stream     string
	mrenclave  string
	image      string
}

type consoleKeyOptions struct {
	fsKey string
	out   string
	force bool
}

func newConsoleCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "console",
		Short: "Work with console-shield output (encrypted stdout/stderr records)",
	}
	var o consoleDecryptOptions
	dec := &cobra.Command{
		Use:   "decrypt (--console-key FILE | --fs-key FILE) [--stream stdout|stderr] [--mrenclave HEX | --image IMAGE] [IN|-]",
		Short: "Authenticate and decrypt a console-shield log to stdout",
		Long: `Decrypts the stdout or stderr log of one run of a program converted with the
console shield on (docs/console.md). Every record is authenticated before its
plaintext is written; the log must be one run of one enclave on the stream
--stream names (stdout by default): a modified, reordered, dropped, truncated
or spliced log, or sessions of another run, enclave or stream, are an error
(exit code 4) after the plaintext authenticated so far has been written.

The key is the console key ('scone-build console key' derives it from the FS
key; it cannot decrypt the image's files), or the FS key itself.
--mrenclave or --image (whose MRENCLAVE is measured from its runtime and
config, as the runtime does) name the enclave that must have written the log;
without them the MRENCLAVE the log names is printed on stderr.
IN defaults to standard input ("-").`,
		Example: `  scone-build console decrypt --console-key console.key --mrenclave 3f2a... stdout.log
  podman logs CONTAINER 2>/dev/null | scone-build console decrypt --fs-key fs.key --image oci:app:scone
  scone-build console decrypt --console-key console.key --stream stderr stderr.log`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			in := "-"
			if len(args) == 1 {
				in = args[0]
			}
			return runConsoleDecrypt(cmd.Context(), a, in, &o)
		},
	}
	f := dec.Flags()
	f.StringVar(&o.consoleKey, "console-key", "", "console key file ('scone-build console key' writes it)")
	f.StringVar(&o.fsKey, "fs-key", "", "FS key file the image was converted with (docs/keys.md)")
	f.StringVar(&o.stream, "stream", "stdout", "the stream the log holds: stdout or stderr")
	f.StringVar(&o.mrenclave, "mrenclave", "", "require that this enclave (64 hex digits) wrote the log")
	f.StringVar(&o.image, "image", "", "require that the enclave of this converted image wrote the log")
	o.imageFlags.addTo(f)

	var ko consoleKeyOptions
	key := &cobra.Command{
		Use:   "key --fs-key FILE [--out FILE]",
		Short: "Derive the console key of an FS key: it decrypts console logs, not the file system",
		Long: `Derives the console key from an FS key (HKDF-SHA256, docs/console.md) and
writes it as a console key file: to --out (mode 0600; an existing file only
with --force), or to stdout. Give it to whoever reads the console logs: it
authenticates and decrypts them ('console decrypt --console-key'), but it does
not open the protected file system, and the FS key cannot be recovered from it.`,
		Example: `  scone-build console key --fs-key keys/fs.key --out keys/console.key`,
		Args:    cobra.NoArgs,
		RunE:    func(cmd *cobra.Command, args []string) error { return runConsoleKey(a, &ko) },
	}
	kf := key.Flags()
	kf.StringVar(&ko.fsKey, "fs-key", "", "FS key file (docs/keys.md)")
	kf.StringVar(&ko.out, "out", "", "write the console key file here (default: stdout)")
	kf.BoolVar(&ko.force, "force", false, "overwrite an existing --out file")
	cmd.AddCommand(dec, key)
	return cmd
}

// consoleKey loads the key the flags name.
func consoleKey(consoleFile, fsFile string) (console.Key, error) {
	switch {
	case consoleFile != "" && fsFile != "":
		return console.Key{}, usagef("--console-key and --fs-key exclude each other: pass one")
	case consoleFile != "":
		k, err := console.LoadKey(consoleFile)
		if err != nil {
			return console.Key{}, consoleKeyError{"--console-key", err}
		}
		return k, nil
	case fsFile != "":
		kf, err := fskey.Load(fsFile)
		if err != nil {
			return console.Key{}, consoleKeyError{"--fs-key", err}
		}
		return console.DeriveKey(kf.Key)
	}
	return console.Key{}, usagef("decrypt console stream: --console-key or --fs-key is required")
}

func runConsoleDecrypt(ctx context.Context, a *app, name string, o *consoleDecryptOptions) error {
	stream, err := console.ParseStream(o.stream)
	if err != nil {
		return usagef("--stream %q: want stdout or stderr", o.stream)
	}
	if o.mrenclave != "" && o.image != "" {
		return usagef("--mrenclave and --image exclude each other: pass one")
	}
	var opts []console.Option
	if o.mrenclave != "" {
		mr, err := parseHex32("--mrenclave", o.mrenclave)
		if err != nil {
			return err
		}
		opts = append(opts, console.WithMRENCLAVE(mr))
	}
	k, err := consoleKey(o.consoleKey, o.fsKey)
	if err != nil {
		return err
	}
	if o.image != "" {
		im, err := o.loadConverted(ctx, o.image)
		if err != nil {
			return err
		}
		m, err := enclave.Measure(bytes.NewReader(im.Run), im.ConfigBin)
		if err != nil {
			return fmt.Errorf("measure image %q: %w", o.image, err)
		}
		a.log.Debug("expected enclave from the image", "image", o.image, "mrenclave", fmt.Sprintf("%x", m.MRENCLAVE))
		opts = append(opts, console.WithMRENCLAVE(m.MRENCLAVE))
	}
	var in io.Reader = a.stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return fmt.Errorf("open console stream %q: %w", name, err)
		}
		defer f.Close()
		in = f
	}
	a.log.Debug("decrypting console stream", "input", name, "stream", stream)
	log, err := console.Decrypt(a.stdout, in, k, stream, opts...)
	if log != nil {
		for i, s := range log.Sessions {
			a.log.Debug("console session", "index", i, "offset", s.Offset, "nonce", fmt.Sprintf("%x", s.Nonce),
				"parent", s.ParentIndex, "fork", s.ForkCounter, "records", s.Records, "final", s.Final)
		}
	}
	if err != nil {
		return fmt.Errorf("decrypt console stream %q: %w", name, err)
	}
	if len(opts) == 0 {
		fmt.Fprintf(a.stderr, "scone-build: note: the log was written by MRENCLAVE %x (run %x); pass --mrenclave or --image to require an enclave\n",
			log.MRENCLAVE, log.Run)
	}
	return nil
}

func runConsoleKey(a *app, o *consoleKeyOptions) error {
	if o.fsKey == "" {
		return usagef("console key: --fs-key is required")
	}
	kf, err := fskey.Load(o.fsKey)
	if err != nil {
		return consoleKeyError{"--fs-key", err}
	}
	k, err := console.DeriveKey(kf.Key)
	if err != nil {
		return err
	}
	if o.out == "" {
		_, err := a.stdout.Write(k.MarshalFile())
		return err
	}
	if err := k.WriteFile(o.out, o.force); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return &keyExistsError{path: o.out}
		}
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "console key  %s\n", o.out)
	return err
}

func consoleHints(err error) (int, string, bool) {
	var ke consoleKeyError
	switch {
	case errors.As(err, &ke) && ke.flag == "--console-key":
		return exitKey, "pass the console key file that 'scone-build console key --fs-key FILE' wrote (docs/console.md); an FS key file goes with --fs-key", true
	case errors.As(err, &ke):
		return exitKey, "pass the FS key file the image was converted with (--fs-key): what 'scone-build keygen' wrote, or 64 hex digits", true
	case errors.Is(err, console.ErrTampered):
		return exitVerification, "the records do not authenticate: the log was modified, or the key is not (derived from) the FS key the image was converted with", true
	case errors.Is(err, console.ErrReordered):
		return exitVerification, "authentic records are missing, duplicated or out of order: the log was tampered with", true
	case errors.Is(err, console.ErrTruncated):
		return exitVerification, "the log ends before the program's final record, or its beginning is missing: it was cut off, or the program was killed before exiting", true
	case errors.Is(err, console.ErrSpliced):
		return exitVerification, "the log mixes sessions of different runs, or repeats one: decrypt each run's log on its own (a restarted container adds a run); otherwise it was tampered with", true
	case errors.Is(err, console.ErrWrongStream):
		return exitVerification, "the log holds sessions of another stream: for a stderr log pass --stream stderr (stdout is the default); capture stdout and stderr separately (not through a terminal); otherwise it was tampered with", true
	case errors.Is(err, console.ErrWrongEnclave):
		return exitVerification, "another enclave wrote (part of) the log: check --mrenclave or --image ('scone-build inspect IMAGE' shows an image's MRENCLAVE); otherwise logs of two images were mixed", true
	case errors.Is(err, console.ErrVersion):
		return exitBadInput, "the log was written by a runtime of another console format version: version 1 logs can be spliced and are no longer read; convert the image with this scone-build and run it again", true
	case errors.Is(err, console.ErrFormat):
		return exitBadInput, "the input is not console-shield output (was the image converted with the console shield on?)", true
	}
	return 0, "", false
}
