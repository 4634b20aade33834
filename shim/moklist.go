package shim

import "github.com/ukibuild/ukibuild/secureboot"

// ReadMokList reads machine owner keys as Variables.MokList holds them
// once enrolled, in the order given: each file is a certificate (PEM or
// DER: one signature list owned by LockGUID, as mokutil --import enrolls
// it) or EFI signature lists (secureboot.ReadFile). Errors name the file.
func ReadMokList(files ...string) ([]byte, error) {
	owner := LockGUID()
	var list []byte
	for _, f := range files {
		d, err := secureboot.ReadFile(f, &owner)
		if err != nil {
			return nil, err
		}
		list = append(list, d.Bytes()...)
	}
	return list, nil
}
