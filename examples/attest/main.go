// Command attest predicts what a machine measures when it boots a UKI and
// checks its TPM event log against that, with the ukibuild library, as
// "ukibuild eventlog verify LOG --uki FILE.efi --pcrs LIST [--esp DIR]" does:
//
//	go run ./examples/attest -uki linux.efi -log binary_bios_measurements \
//	  -pcrs 4,9,11,12,13 [-esp /efi] [-pk PK.esl -kek KEK.esl -db db.esl -dbx dbx.esl]
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/ukibuild/ukibuild/attest"
	"github.com/ukibuild/ukibuild/eventlog"
)

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func main() {
	ukiPath := flag.String("uki", "", "the UKI the firmware started")
	logPath := flag.String("log", "", "the TCG event log")
	pcrList := flag.String("pcrs", "4,9,11,12,13", "PCRs to compare")
	esp := flag.String("esp", "", "the ESP (/loader/credentials, /loader/extensions, /loader/addons)")
	var sb attest.SecureBoot
	esl := map[*string]*[]byte{}
	for name, v := range map[string]*[]byte{"pk": &sb.PK, "kek": &sb.KEK, "db": &sb.DB, "dbx": &sb.DBX} {
		esl[flag.String(name, "", "PCR 7: the "+name+" variable as an EFI signature list")] = v
	}
	flag.Parse()
	pcrs, err := eventlog.ParsePCRList(*pcrList)
	check(err)
	data, err := os.ReadFile(*logPath)
	check(err)
	banks, err := attest.LogBanks(data) // predict in the log's banks
	check(err)
	m := attest.Machine{PCRs: pcrs, Banks: banks, ESP: *esp}
	for f, v := range esl {
		if *f != "" {
			*v, err = os.ReadFile(*f)
			check(err)
			m.SecureBoot = &sb
		}
	}
	ref, err := attest.Predict(context.Background(), *ukiPath, m)
	check(err)
	rep, err := ref.Verify(context.Background(), attest.Evidence{Log: data})
	check(err)
	fmt.Print(rep)
	if !rep.OK() {
		os.Exit(1)
	}
}
