// Command signeduki shows the whole job in a Go program: build a UKI,
// predict its PCR 11 values, sign PCR policies into .pcrsig and sign the
// image (and the kernel inside) for Secure Boot, with the ukibuild library.
// It does what
//
//	ukibuild build --linux vmlinuz --initrd initrd.img --measure \
//	  --pcr-private-key pcr.key --phases enter-initrd \
//	  --secureboot-private-key db.key --secureboot-certificate db.crt -o linux.efi
//
// does. Keys as "ukibuild genkey" writes them (PEM):
//
//	go run ./examples/signeduki -linux vmlinuz -initrd initrd.img \
//	  -pcr-key pcr.key -db-key db.key -db-cert db.crt -o linux.efi
package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"

	"github.com/ukibuild/ukibuild/keys"
	"github.com/ukibuild/ukibuild/pcr"
	"github.com/ukibuild/ukibuild/sign"
	"github.com/ukibuild/ukibuild/uki"
)

func main() {
	// Ctrl-C stops the build between chunks; nothing is written.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	stub := flag.String("stub", uki.DefaultStubPath("x64", false), "systemd-stub")
	linux := flag.String("linux", "", "kernel image")
	initrd := flag.String("initrd", "", "initrd (optional)")
	cmdline := flag.String("cmdline", "console=ttyS0 quiet", "kernel command line")
	pcrKey := flag.String("pcr-key", "", "PCR signing key (PEM, RSA)")
	dbKey := flag.String("db-key", "", "Secure Boot key (PEM, RSA)")
	dbCert := flag.String("db-cert", "", "Secure Boot certificate (PEM)")
	out := flag.String("o", "linux.efi", "output")
	flag.Parse()
	if *linux == "" || *pcrKey == "" || *dbKey == "" || *dbCert == "" {
		log.Fatal("-linux, -pcr-key, -db-key and -db-cert are required")
	}

	cfg := uki.Config{
		Stub:    *stub,
		Linux:   *linux,
		Cmdline: uki.Text("cmdline", *cmdline),
		Warnf:   log.Printf,
	}
	osrel, err := uki.File(uki.DefaultOSRelease())
	if err != nil {
		log.Fatal(err)
	}
	cfg.OSRelease = osrel
	if *initrd != "" {
		c, err := uki.File(*initrd)
		if err != nil {
			log.Fatal(err)
		}
		cfg.Initrds = []uki.Content{c}
	}

	// PCR 11 policies for the initrd phase, signed into .pcrsig.
	cfg.PCRKeys = []uki.PCRKey{{Signer: privateKey(*pcrKey), Phases: []string{"enter-initrd"}}}
	sha256, _ := pcr.ParseBank("sha256")
	cfg.PCRBanks = []pcr.Bank{sha256}

	// Secure Boot: the image, and the kernel inside when it is unsigned.
	cfg.SecureBoot = &uki.SecureBoot{
		Signer:  privateKey(*dbKey),
		Options: sign.Options{Certificate: certificate(*dbCert)},
	}

	plan, err := uki.Prepare(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer plan.Close()
	// The values PCR 11 will have (systemd-measure calculate).
	preds, err := plan.Predict(ctx, cfg.PCRBanks, []string{"enter-initrd"})
	if err != nil {
		log.Fatal(err)
	}
	if err := pcr.FormatCalculate(os.Stdout, os.Stderr, preds, pcr.MeasureJSONOff); err != nil {
		log.Fatal(err)
	}
	if err := plan.WriteFile(ctx, *out); err != nil {
		log.Fatal(err)
	}
	fmt.Fprintf(os.Stderr, "wrote signed %s (kernel signed too: %v)\n", *out, plan.KernelSigned)
}

func privateKey(path string) crypto.Signer {
	k, err := keys.PrivateKey(path, nil) // nil: no passphrase, an encrypted key is refused
	if err != nil {
		log.Fatal(err)
	}
	return k
}

func certificate(path string) *x509.Certificate {
	c, err := keys.Certificate(path)
	if err != nil {
		log.Fatal(err)
	}
	return c
}
