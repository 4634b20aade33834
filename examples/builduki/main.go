// Command builduki shows how a Go program builds a UKI with the ukibuild
// library instead of running the ukibuild (or ukify) command:
//
//	go run ./examples/builduki -stub linuxx64.efi.stub -linux vmlinuz -initrd initrd.img -o linux.efi
package main

import (
	"context"
	"flag"
	"log"
	"os"
	"os/signal"

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
	out := flag.String("o", "linux.efi", "output")
	flag.Parse()
	if *linux == "" {
		log.Fatal("-linux is required")
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
	if err := uki.Build(ctx, cfg, *out); err != nil {
		log.Fatal(err)
	}
	log.Printf("wrote %s", *out)
}
