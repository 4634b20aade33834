package sign

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestOfflineFiles: ExportFile writes the bytes systemd-sbsign 262's
// --prepare-offline-signing writes; AttachFile with openssl's signature
// of them writes the image systemd-sbsign writes from the same files, in
// place too; and another image's attributes or a signature of other bytes
// are refused, naming the file, with no output.
func TestOfflineFiles(t *testing.T) {
	openssl := tool(t, "openssl", "openssl")
	keyPath, certPath, _, cert := opensslKeyCert(t)
	const epoch = 1700000000
	in := testUKI(t)
	dir := t.TempDir()
	opts := Options{Certificate: cert, Profile: ProfileSystemdSbsign, SigningTime: time.Unix(epoch, 0)}

	attrs, sdAttrs := filepath.Join(dir, "attrs"), filepath.Join(dir, "sd.attrs")
	if err := ExportFile(context.Background(), in, attrs, opts); err != nil {
		t.Fatal(err)
	}
	systemdSbsign(t, strconv.Itoa(epoch), "sign", "--certificate", certPath, "--prepare-offline-signing", "--output", sdAttrs, in)
	if got, want := readFile(t, attrs), readFile(t, sdAttrs); !bytes.Equal(got, want) {
		t.Fatalf("ExportFile differs from systemd-sbsign's export: %s", firstDiff(got, want))
	}

	sig := attrs + ".sig"
	run(t, openssl, "dgst", "-sha256", "-sign", keyPath, "-out", sig, attrs)
	out, sdOut := filepath.Join(dir, "out.efi"), filepath.Join(dir, "sd.efi")
	if err := AttachFile(context.Background(), in, out, sig, "", opts); err != nil {
		t.Fatal(err)
	}
	systemdSbsign(t, "", "sign", "--certificate", certPath, "--signed-data", attrs, "--signed-data-signature", sig, "--output", sdOut, in)
	want := readFile(t, sdOut)
	if got := readFile(t, out); !bytes.Equal(got, want) {
		t.Fatalf("AttachFile differs from systemd-sbsign's: %s", firstDiff(got, want))
	}
	// In place, the signing time from step 1's file (not the one given).
	inPlace := writeTemp(t, "in.efi", readFile(t, in))
	if err := AttachFile(context.Background(), inPlace, inPlace, sig, attrs, Options{Certificate: cert, Profile: ProfileSystemdSbsign, SigningTime: time.Unix(1, 0)}); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, inPlace); !bytes.Equal(got, want) {
		t.Fatalf("AttachFile in place differs from systemd-sbsign's: %s", firstDiff(got, want))
	}

	var fe *OfflineFileError
	bad := filepath.Join(dir, "bad.efi")
	if err := AttachFile(context.Background(), in, bad, sig, out, opts); !errors.As(err, &fe) || fe.Field != SignedDataFile || fe.File != out {
		t.Errorf("another file as signed data: %v", err)
	}
	if err := AttachFile(context.Background(), in, bad, sdAttrs, "", opts); !errors.As(err, &fe) || fe.Field != SignatureFile || fe.File != sdAttrs {
		t.Errorf("the attributes as the signature: %v", err)
	}
	if _, err := os.Stat(bad); err == nil {
		t.Error("a refused attach wrote its output")
	}
}
