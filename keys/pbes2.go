package keys

// Encrypted PKCS#8 private keys (RFC 5208 EncryptedPrivateKeyInfo) with
// PBES2 (RFC 8018, section 6.2): PBKDF2 with an HMAC-SHA-1/224/256/384/512
// PRF, and AES-128/192/256-CBC or DES-EDE3-CBC. This is what OpenSSL 3
// writes for "openssl genpkey -aes-256-cbc" and "openssl pkcs8 -topk8";
// the standard library does not read it.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

var (
	oidPBES2  = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}
	oidPBKDF2 = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}
	oidScrypt = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11591, 4, 11}

	oidHMACSHA1 = encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 7}
	prfs        = []struct {
		oid  encasn1.ObjectIdentifier
		name string
		h    func() hash.Hash
	}{
		{oidHMACSHA1, "hmacWithSHA1", sha1.New},
		{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 8}, "hmacWithSHA224", sha256.New224},
		{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, "hmacWithSHA256", sha256.New},
		{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 10}, "hmacWithSHA384", sha512.New384},
		{encasn1.ObjectIdentifier{1, 2, 840, 113549, 2, 11}, "hmacWithSHA512", sha512.New},
	}
	ciphers = []struct {
		oid    encasn1.ObjectIdentifier
		name   string
		keyLen int
		block  func(key []byte) (cipher.Block, error)
	}{
		{encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}, "aes-128-cbc", 16, aes.NewCipher},
		{encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}, "aes-192-cbc", 24, aes.NewCipher},
		{encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, "aes-256-cbc", 32, aes.NewCipher},
		{encasn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}, "des-ede3-cbc", 24, des.NewTripleDESCipher},
	}
)

// maxIterations bounds the PBKDF2 iteration count, so that a hostile key
// file cannot keep the command busy for hours (OpenSSL writes 2048 by
// default; ten million take a few seconds).
var maxIterations = 10_000_000

// errDecrypt hides why decryption failed: a wrong passphrase and a corrupt
// file look the same, and nothing about the passphrase may leak.
var errDecrypt = errors.New("cannot decrypt: wrong passphrase, or the file is corrupt")

// pbes2Params are the parsed PBES2 parameters.
type pbes2Params struct {
	salt       []byte
	iterations int
	prf        func() hash.Hash
	cipherIdx  int
	iv         []byte
	data       []byte
}

// parseEncryptedPKCS8 parses an EncryptedPrivateKeyInfo with PBES2.
func parseEncryptedPKCS8(der []byte) (*pbes2Params, error) {
	malformed := errors.New("malformed EncryptedPrivateKeyInfo")
	in := cryptobyte.String(der)
	var epki, alg, params, kdf, kdfParams, enc cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !in.ReadASN1(&epki, asn1.SEQUENCE) || !epki.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, malformed
	}
	if !oid.Equal(oidPBES2) {
		return nil, fmt.Errorf("encrypted with %v, not PBES2 (1.2.840.113549.1.5.13); re-encrypt it with 'openssl pkcs8 -topk8 -v2 aes-256-cbc'", oid)
	}
	p := &pbes2Params{prf: sha1.New}
	var data cryptobyte.String
	if !alg.ReadASN1(&params, asn1.SEQUENCE) || !alg.Empty() ||
		!epki.ReadASN1(&data, asn1.OCTET_STRING) || !epki.Empty() {
		return nil, malformed
	}
	p.data = data
	if !params.ReadASN1(&kdf, asn1.SEQUENCE) || !kdf.ReadASN1ObjectIdentifier(&oid) {
		return nil, errors.New("malformed PBES2 key derivation function")
	}
	switch {
	case oid.Equal(oidScrypt):
		return nil, errors.New("the key is encrypted with a passphrase through scrypt, which is not supported; re-encrypt it with 'openssl pkcs8 -topk8 -v2 aes-256-cbc' (PBKDF2)")
	case !oid.Equal(oidPBKDF2):
		return nil, fmt.Errorf("PBES2 key derivation function %v is not PBKDF2", oid)
	}
	var salt cryptobyte.String
	var iter int64
	if !kdf.ReadASN1(&kdfParams, asn1.SEQUENCE) || !kdf.Empty() ||
		!kdfParams.ReadASN1(&salt, asn1.OCTET_STRING) || !kdfParams.ReadASN1Integer(&iter) {
		return nil, errors.New("malformed PBKDF2 parameters")
	}
	if iter < 1 || iter > int64(maxIterations) {
		return nil, fmt.Errorf("PBKDF2 iteration count %d is outside 1..%d", iter, maxIterations)
	}
	p.salt, p.iterations = salt, int(iter)
	keyLen := int64(-1)
	if kdfParams.PeekASN1Tag(asn1.INTEGER) && !kdfParams.ReadASN1Integer(&keyLen) {
		return nil, errors.New("malformed PBKDF2 key length")
	}
	if !kdfParams.Empty() {
		var prf cryptobyte.String
		if !kdfParams.ReadASN1(&prf, asn1.SEQUENCE) || !kdfParams.Empty() || !prf.ReadASN1ObjectIdentifier(&oid) {
			return nil, errors.New("malformed PBKDF2 PRF")
		}
		found := false
		for _, c := range prfs {
			if c.oid.Equal(oid) {
				p.prf, found = c.h, true
			}
		}
		if !found {
			return nil, fmt.Errorf("PBKDF2 PRF %v is not HMAC with SHA-1/224/256/384/512", oid)
		}
	}
	if !params.ReadASN1(&enc, asn1.SEQUENCE) || !params.Empty() || !enc.ReadASN1ObjectIdentifier(&oid) {
		return nil, errors.New("malformed PBES2 encryption scheme")
	}
	p.cipherIdx = -1
	for i, c := range ciphers {
		if c.oid.Equal(oid) {
			p.cipherIdx = i
		}
	}
	if p.cipherIdx < 0 {
		return nil, fmt.Errorf("PBES2 encryption scheme %v is not AES-CBC or DES-EDE3-CBC", oid)
	}
	c := ciphers[p.cipherIdx]
	if keyLen >= 0 && keyLen != int64(c.keyLen) {
		return nil, fmt.Errorf("PBKDF2 key length %d does not suit %s", keyLen, c.name)
	}
	var iv cryptobyte.String
	if !enc.ReadASN1(&iv, asn1.OCTET_STRING) || !enc.Empty() {
		return nil, errors.New("malformed PBES2 IV")
	}
	p.iv = iv
	return p, nil
}

// decrypt decrypts the key data with passphrase and returns the PKCS#8
// PrivateKeyInfo.
func (p *pbes2Params) decrypt(passphrase []byte) ([]byte, error) {
	c := ciphers[p.cipherIdx]
	key, err := pbkdf2.Key(p.prf, string(passphrase), p.salt, p.iterations, c.keyLen)
	if err != nil {
		return nil, fmt.Errorf("deriving the key: %w", err)
	}
	defer clear(key)
	b, err := c.block(key)
	if err != nil {
		return nil, err
	}
	bs := b.BlockSize()
	if len(p.iv) != bs {
		return nil, fmt.Errorf("the %s IV is %d bytes, not %d", c.name, len(p.iv), bs)
	}
	if len(p.data) == 0 || len(p.data)%bs != 0 {
		return nil, fmt.Errorf("the encrypted key is %d bytes, not a positive multiple of the %s block size", len(p.data), c.name)
	}
	plain := make([]byte, len(p.data))
	cipher.NewCBCDecrypter(b, p.iv).CryptBlocks(plain, p.data)
	// PKCS#7 padding; a wrong passphrase almost always breaks it.
	n := int(plain[len(plain)-1])
	if n == 0 || n > bs {
		clear(plain)
		return nil, errDecrypt
	}
	for _, x := range plain[len(plain)-n:] {
		if int(x) != n {
			clear(plain)
			return nil, errDecrypt
		}
	}
	return plain[:len(plain)-n], nil
}

// decryptPKCS8 decrypts and parses an encrypted PKCS#8 key, asking for the
// passphrase.
func decryptPKCS8(der []byte, path string, passphrase func(string) ([]byte, error)) (any, error) {
	p, err := parseEncryptedPKCS8(der)
	if err != nil {
		return nil, err
	}
	pass, err := passphrase(path)
	if err != nil {
		return nil, err
	}
	defer clear(pass)
	plain, err := p.decrypt(pass)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	key, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, errDecrypt
	}
	return key, nil
}
