// Command bench compares ukibuild's full build (PCR policies for 4 banks ×
// the default phases, Secure Boot signing) with the ukify 262.1 +
// systemd-measure + sbsign pipeline doing the same job, and with a floor
// program that only reads each input byte once, writes it once and computes
// the digests the job needs (Authenticode SHA-256 and the four PCR banks)
// in parallel. It prints the median wall time, CPU time and peak RSS per
// initrd size, and the ratios. Then (unless -token=false) it compares
// ukibuild's build with the PCR key as a PEM file and the same key imported
// into a SoftHSM2 token (internal/softhsmtest's fixture) and named by a
// pkcs11: URI, with the smallest initrd: the cost of 16 policy signatures
// on a token (4 banks × the default phases), made up to
// pcrsig.SignConcurrency at once. Run it with "task bench"; it needs the
// reference tools (internal/reftools/fetch.sh), sbsigntool and softhsm2.
//
//	go run ./internal/bench [-sizes 16,64,256] [-runs 3] [-token=false]
//
// "bench floor OUT IN..." is the floor program itself.
package main

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ukibuild/ukibuild/internal/fanout"
	"github.com/ukibuild/ukibuild/internal/reftools"
	"github.com/ukibuild/ukibuild/internal/softhsmtest"
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == "floor" {
		if err := floor(os.Args[2], os.Args[3:]); err != nil {
			log.Fatal(err)
		}
		return
	}
	sizes := flag.String("sizes", "16,64,256", "initrd sizes in MiB, comma separated")
	runs := flag.Int("runs", 3, "runs per pipeline and size (alternating)")
	keep := flag.Bool("keep", false, "keep the work directory")
	token := flag.Bool("token", true, "also compare a PCR key on a SoftHSM2 token with the same key as PEM")
	flag.Parse()
	log.SetFlags(0)
	if err := bench(*sizes, *runs, *keep, *token); err != nil {
		log.Fatal(err)
	}
}

// floor reads every input once, writes it once to out and feeds it to the
// five digests a signed, measured build needs, all in parallel.
func floor(out string, inputs []string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	hs := []io.Writer{sha256.New(), sha1.New(), sha256.New(), sha512.New384(), sha512.New()}
	for _, in := range inputs {
		r, err := os.Open(in)
		if err != nil {
			return err
		}
		_, err = fanout.Copy(r, append([]io.Writer{f}, hs...)...)
		r.Close()
		if err != nil {
			return err
		}
	}
	return f.Sync()
}

type result struct {
	wall, cpu time.Duration
	rssKiB    int64
}

type pipeline struct {
	name string
	cmd  func(initrd, out string) *exec.Cmd
}

func bench(sizeList string, runs int, keep, token bool) error {
	tools, err := reftools.Load(reftools.Dir())
	if err != nil {
		return err
	}
	need := func(key string) (string, error) {
		v := tools.Var(key)
		if v == "" {
			return "", fmt.Errorf("%s not recorded: run internal/reftools/fetch.sh", key)
		}
		return v, nil
	}
	stub, err := need("UKIBUILD_STUB_262")
	if err != nil {
		return err
	}
	kernel, err := need("UKIBUILD_KERNEL")
	if err != nil {
		return err
	}
	ukify, err := need("UKIBUILD_UKIFY")
	if err != nil {
		return err
	}
	if _, err := exec.LookPath("sbsign"); err != nil {
		return fmt.Errorf("sbsign is missing (apt-get install sbsigntool): %w", err)
	}
	dir, err := os.MkdirTemp("", "ukibuild-bench-")
	if err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	} else {
		log.Printf("work directory: %s", dir)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ukibuild := filepath.Join(dir, "ukibuild")
	if out, err := exec.Command("go", "build", "-trimpath", "-o", ukibuild, "github.com/ukibuild/ukibuild/cmd/ukibuild").CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	k := func(name string) string { return filepath.Join(dir, name) }
	if out, err := exec.Command(ukibuild, "genkey", "--secureboot-private-key", k("db.key"), "--secureboot-certificate", k("db.crt"),
		"--secureboot-certificate-common-name", "bench", "--pcr-private-key", k("pcr.key"), "--pcr-public-key", k("pcr.pub")).CombinedOutput(); err != nil {
		return fmt.Errorf("genkey: %v\n%s", err, out)
	}
	toolsDir, err := sidTools(tools, dir)
	if err != nil {
		return err
	}
	common := func(initrd string) []string {
		return []string{"build", "--stub", stub, "--linux", kernel, "--initrd", initrd, "--cmdline", "console=ttyS0 quiet",
			"--os-release", "ID=bench", "--uname", "6.1.0-50-amd64",
			"--pcr-private-key", k("pcr.key"), "--pcr-public-key", k("pcr.pub"),
			"--secureboot-private-key", k("db.key"), "--secureboot-certificate", k("db.crt"), "--no-sign-kernel"}
	}
	pipelines := []pipeline{
		{"ukify+measure+sbsign", func(initrd, out string) *exec.Cmd {
			c := exec.Command("python3", append(append([]string{ukify}, common(initrd)...), "--tools", toolsDir, "--output", out)...)
			c.Env = append(os.Environ(), "PYTHONPATH="+tools.Var("UKIBUILD_SID_PYTHONPATH"), "PYTHONDONTWRITEBYTECODE=1")
			return c
		}},
		{"ukibuild", func(initrd, out string) *exec.Cmd {
			return exec.Command(ukibuild, append(common(initrd), "--output", out)...)
		}},
		{"floor", func(initrd, out string) *exec.Cmd {
			return exec.Command(self, "floor", out, kernel, initrd)
		}},
	}
	var rows [][]string
	for _, s := range strings.Split(sizeList, ",") {
		mib, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || mib <= 0 {
			return fmt.Errorf("-sizes: bad size %q", s)
		}
		initrd := k(fmt.Sprintf("initrd-%d", mib))
		if err := randomFile(initrd, int64(mib)<<20); err != nil {
			return err
		}
		results := make([][]result, len(pipelines))
		for run := range runs {
			for i, p := range pipelines {
				out := k(fmt.Sprintf("out-%d-%d.efi", i, run))
				r, err := measure(p.cmd(initrd, out))
				if err != nil {
					return fmt.Errorf("%s, %d MiB: %w", p.name, mib, err)
				}
				os.Remove(out)
				results[i] = append(results[i], r)
				log.Printf("%4d MiB  %-22s wall %7.3fs  cpu %7.3fs  rss %6.1f MiB", mib, p.name, r.wall.Seconds(), r.cpu.Seconds(), float64(r.rssKiB)/1024)
			}
		}
		med := make([]result, len(pipelines))
		for i := range pipelines {
			med[i] = median(results[i])
			rows = append(rows, []string{strconv.Itoa(mib), pipelines[i].name, secs(med[i].wall), secs(med[i].cpu), fmt.Sprintf("%.1f", float64(med[i].rssKiB)/1024)})
		}
		rows = append(rows, []string{strconv.Itoa(mib), "ratio ukify/ukibuild", ratio(med[0].wall, med[1].wall), ratio(med[0].cpu, med[1].cpu), ratioF(med[0].rssKiB, med[1].rssKiB)})
		rows = append(rows, []string{strconv.Itoa(mib), "ratio ukibuild/floor", ratio(med[1].wall, med[2].wall), ratio(med[1].cpu, med[2].cpu), ratioF(med[1].rssKiB, med[2].rssKiB)})
		os.Remove(initrd)
	}
	if token {
		mib, _ := strconv.Atoi(strings.TrimSpace(strings.Split(sizeList, ",")[0]))
		trows, err := benchToken(dir, k("pcr.key"), mib, runs, func(initrd, pcrKey, out string) *exec.Cmd {
			args := common(initrd)
			for i := range args {
				if args[i] == "--pcr-private-key" {
					args[i+1] = pcrKey
				}
			}
			return exec.Command(ukibuild, append(args, "--output", out)...)
		})
		if err != nil {
			return err
		}
		rows = append(rows, trows...)
	}
	var buf bytes.Buffer
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "initrd MiB\tpipeline\tmedian wall s\tmedian CPU s\tpeak RSS MiB\t")
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t")+"\t")
	}
	tw.Flush()
	fmt.Printf("\nkernel %s (%s), %d runs each, alternating; peak RSS is the largest process of the pipeline\n%s", filepath.Base(kernel), size(kernel), runs, buf.String())
	return nil
}

// benchToken imports the PEM PCR key pemKey into a SoftHSM2 token and
// times build (ukibuild with everything but the PCR key as in the main
// comparison) with the PEM file and with the token's pkcs11: URI,
// alternately, on a new initrd of mib MiB. The two outputs must be
// byte-identical (RSASSA-PKCS1-v1_5 is deterministic and the Secure Boot
// signature has no signing time): else the comparison would be void.
func benchToken(dir, pemKey string, mib, runs int, build func(initrd, pcrKey, out string) *exec.Cmd) ([][]string, error) {
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		return nil, fmt.Errorf("softhsm2-util is missing (apt-get install softhsm2; or -token=false): %w", err)
	}
	// The fixture sets SOFTHSM2_CONF in this process: the builds inherit it.
	hsm, err := softhsmtest.Setup()
	if err != nil {
		return nil, fmt.Errorf("SoftHSM2 token: %w", err)
	}
	defer hsm.Close()
	// softhsm2-util --import reads PKCS #8 only; genkey writes PKCS #1.
	b, err := os.ReadFile(pemKey)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "RSA PRIVATE KEY" {
		return nil, fmt.Errorf("%s: not a PEM RSA PRIVATE KEY", pemKey)
	}
	key, err := x509.ParsePKCS1PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pemKey, err)
	}
	p8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	p8File := filepath.Join(dir, "pcr.p8")
	if err := os.WriteFile(p8File, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8}), 0o600); err != nil {
		return nil, err
	}
	if out, err := exec.Command(util, "--import", p8File, "--token", softhsmtest.Token, "--label", "pcr-bench", "--id", "b1",
		"--pin", softhsmtest.PIN).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("softhsm2-util --import: %v\n%s", err, out)
	}
	uri := hsm.URI("token="+softhsmtest.Token+";object=pcr-bench;type=private", "pin-value="+softhsmtest.PIN)
	initrd := filepath.Join(dir, fmt.Sprintf("initrd-token-%d", mib))
	if err := randomFile(initrd, int64(mib)<<20); err != nil {
		return nil, err
	}
	defer os.Remove(initrd)
	keys := []struct{ name, key string }{{"ukibuild, PEM PCR key", pemKey}, {"ukibuild, SoftHSM2 PCR key", uri}}
	results := make([][]result, len(keys))
	for range runs {
		var outs [2][sha256.Size]byte
		for i, kk := range keys {
			out := filepath.Join(dir, fmt.Sprintf("token-%d.efi", i))
			r, err := measure(build(initrd, kk.key, out))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", kk.name, err)
			}
			// Hashed, not read whole: the builds' peak RSS includes this
			// process's at fork time.
			if outs[i], err = fileSHA256(out); err != nil {
				return nil, err
			}
			os.Remove(out)
			results[i] = append(results[i], r)
			log.Printf("%4d MiB  %-26s wall %7.3fs  cpu %7.3fs  rss %6.1f MiB", mib, kk.name, r.wall.Seconds(), r.cpu.Seconds(), float64(r.rssKiB)/1024)
		}
		if outs[0] != outs[1] {
			return nil, errors.New("the UKIs built with the PEM key and with the token differ")
		}
	}
	var rows [][]string
	med := make([]result, len(keys))
	for i := range keys {
		med[i] = median(results[i])
		rows = append(rows, []string{strconv.Itoa(mib), keys[i].name, secs(med[i].wall), secs(med[i].cpu), fmt.Sprintf("%.1f", float64(med[i].rssKiB)/1024)})
	}
	rows = append(rows, []string{strconv.Itoa(mib), "ratio token/PEM", ratio(med[1].wall, med[0].wall), ratio(med[1].cpu, med[0].cpu), ratioF(med[1].rssKiB, med[0].rssKiB)})
	return rows, nil
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }
func ratio(a, b time.Duration) string {
	return fmt.Sprintf("%.2f×", float64(a)/float64(b))
}
func ratioF(a, b int64) string { return fmt.Sprintf("%.2f×", float64(a)/float64(b)) }

func size(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MiB", float64(st.Size())/(1<<20))
}

func median(rs []result) result {
	pick := func(f func(result) int64) int64 {
		v := make([]int64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	return result{
		wall:   time.Duration(pick(func(r result) int64 { return int64(r.wall) })),
		cpu:    time.Duration(pick(func(r result) int64 { return int64(r.cpu) })),
		rssKiB: pick(func(r result) int64 { return r.rssKiB }),
	}
}

// measure runs cmd and returns its wall time and, from wait4's rusage, the
// CPU time and peak RSS of it and its waited-for descendants.
func measure(cmd *exec.Cmd) (result, error) {
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%v\n%s", err, stderr.String())
	}
	wall := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return result{wall: wall, cpu: cpu, rssKiB: ru.Maxrss}, nil
}

func fileSHA256(path string) (d [sha256.Size]byte, err error) {
	f, err := os.Open(path)
	if err != nil {
		return d, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return d, err
	}
	copy(d[:], h.Sum(nil))
	return d, nil
}

// randomFile writes n incompressible bytes.
func randomFile(path string, n int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{'u', 'k', 'i'})
	if _, err := io.CopyN(f, r, n); err != nil {
		return err
	}
	return f.Close()
}

// sidTools writes the wrappers through which ukify runs sid's
// systemd-measure and systemd-keyutil (with sid's loader and libraries).
func sidTools(tools *reftools.Tools, dir string) (string, error) {
	root := tools.Var("UKIBUILD_SID_ROOT")
	libs := tools.Var("UKIBUILD_SID_LIBRARY_PATH")
	out := filepath.Join(dir, "tools")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	for _, tool := range []string{"systemd-measure", "systemd-keyutil"} {
		bin := filepath.Join(root, "usr/lib/systemd", tool)
		if _, err := os.Stat(bin); err != nil {
			return "", fmt.Errorf("%s: %w (run internal/reftools/fetch.sh)", tool, err)
		}
		script := fmt.Sprintf("#!/bin/sh\nexec %s/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2 --library-path %s %s \"$@\"\n", root, libs, bin)
		if err := os.WriteFile(filepath.Join(out, tool), []byte(script), 0o755); err != nil {
			return "", err
		}
	}
	return out, nil
}
