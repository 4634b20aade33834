package sign

import (
	"bytes"
	"crypto"
	"crypto/x509"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// signature is a parsed Authenticode PKCS#7 SignedData.
type signature struct {
	// edk2Hash is the digest algorithm EDK2 reads at offset 32 (0 if the
	// bytes there name none).
	edk2Hash crypto.Hash

	idcContent    []byte // content octets of SpcIndirectDataContent
	idcDigestHash crypto.Hash
	idcDigest     []byte

	certs []*x509.Certificate

	signerIssuer  []byte // DER Name
	signerSerial  []byte // DER INTEGER (tag, length, value)
	signerHash    crypto.Hash
	hasAttrs      bool
	attrs         []byte // the authenticated attributes, SET OF content
	messageDigest []byte
	signingTime   time.Time
	sigAlg        encasn1.ObjectIdentifier
	sig           []byte
}

// malformed reports a structural defect of a signature.
func malformed(format string, args ...any) error {
	return fmt.Errorf("malformed PKCS#7 SignedData: "+format, args...)
}

// edk2Offset32 returns the digest algorithm whose OID value EDK2 finds at
// offset 32 of the signature (HashPeImageByType), checking first that the
// ContentInfo has the two-byte length form EDK2 requires.
func edk2Offset32(p7 []byte) (crypto.Hash, error) {
	if len(p7) < 2 || p7[1]&0x82 != 0x82 {
		return 0, errors.New("the ContentInfo length is not in the two-byte long form (30 82 LL LL) EDK2 requires")
	}
	for _, c := range []struct {
		h   crypto.Hash
		oid encasn1.ObjectIdentifier
	}{{crypto.SHA1, oidSHA1}, {crypto.SHA256, oidSHA256}, {crypto.SHA384, oidSHA384}, {crypto.SHA512, oidSHA512}} {
		v, _ := contentOctets(oidDER(c.oid))
		if len(p7) >= 32+len(v) && bytes.Equal(p7[32:32+len(v)], v) {
			return c.h, nil
		}
	}
	return 0, errors.New("no SHA-1/256/384/512 digest algorithm OID at offset 32, where EDK2 looks for it (30 82/A0 82/30 82 lengths and one digest algorithm)")
}

// parseSignature parses an Authenticode PKCS#7 SignedData. Bytes after the
// ContentInfo (padding) are ignored, as OpenSSL's d2i_PKCS7 does.
func parseSignature(p7 []byte) (*signature, error) {
	sig := &signature{}
	var err error
	if sig.edk2Hash, err = edk2Offset32(p7); err != nil {
		return nil, err
	}
	if len(p7) < 17 || p7[15] != 0xa0 || p7[16] != 0x82 {
		return nil, errors.New("the ContentInfo's [0] does not have the two-byte length form (A0 82 LL LL) EDK2's WrapPkcs7Data requires at offset 15")
	}

	in := cryptobyte.String(p7)
	var ci, sd cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !in.ReadASN1(&ci, asn1.SEQUENCE) {
		return nil, malformed("no DER ContentInfo SEQUENCE")
	}
	if !ci.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(oidSignedData) {
		return nil, malformed("the content type is not signedData")
	}
	var explicit cryptobyte.String
	if !ci.ReadASN1(&explicit, asn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() {
		return nil, malformed("no [0] content in the ContentInfo")
	}
	if !explicit.ReadASN1(&sd, asn1.SEQUENCE) || !explicit.Empty() {
		return nil, malformed("no SignedData SEQUENCE")
	}
	var version int64
	if !sd.ReadASN1Integer(&version) || version != 1 {
		return nil, malformed("SignedData version is not 1")
	}
	var digestAlgs cryptobyte.String
	if !sd.ReadASN1(&digestAlgs, asn1.SET) {
		return nil, malformed("no digestAlgorithms SET")
	}
	for !digestAlgs.Empty() {
		if _, err := readAlgorithm(&digestAlgs); err != nil {
			return nil, malformed("digestAlgorithms: %v", err)
		}
	}

	// contentInfo: SpcIndirectDataContent.
	var eci, econtent, idc cryptobyte.String
	if !sd.ReadASN1(&eci, asn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&oid) {
		return nil, malformed("no contentInfo")
	}
	if !oid.Equal(oidSpcIndirectData) {
		return nil, fmt.Errorf("the signed content type is %v, not SpcIndirectDataContent (1.3.6.1.4.1.311.2.1.4)", oid)
	}
	if !eci.ReadASN1(&econtent, asn1.Tag(0).Constructed().ContextSpecific()) || !eci.Empty() {
		return nil, errors.New("the signature is detached: no SpcIndirectDataContent content")
	}
	if !econtent.ReadASN1(&idc, asn1.SEQUENCE) || !econtent.Empty() {
		return nil, malformed("SpcIndirectDataContent is not a SEQUENCE")
	}
	sig.idcContent = idc
	if err := sig.parseIDC(idc); err != nil {
		return nil, err
	}

	// certificates [0] IMPLICIT, crls [1] IMPLICIT.
	var certs cryptobyte.String
	var hasCerts bool
	if !sd.ReadOptionalASN1(&certs, &hasCerts, asn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, malformed("certificates")
	}
	for !certs.Empty() {
		var c cryptobyte.String
		if !certs.ReadASN1Element(&c, asn1.SEQUENCE) {
			return nil, malformed("an embedded certificate is not a DER SEQUENCE")
		}
		cert, err := x509.ParseCertificate(c)
		if err != nil {
			return nil, fmt.Errorf("embedded certificate %d: %w", len(sig.certs), err)
		}
		sig.certs = append(sig.certs, cert)
	}
	if !sd.SkipOptionalASN1(asn1.Tag(1).Constructed().ContextSpecific()) {
		return nil, malformed("crls")
	}

	var signerInfos, si cryptobyte.String
	if !sd.ReadASN1(&signerInfos, asn1.SET) || !sd.Empty() {
		return nil, malformed("no signerInfos SET at the end of SignedData")
	}
	if !signerInfos.ReadASN1(&si, asn1.SEQUENCE) {
		return nil, errors.New("the signature has no SignerInfo")
	}
	if !signerInfos.Empty() {
		return nil, errors.New("the signature has more than one SignerInfo (Authenticode allows one)")
	}
	if err := sig.parseSignerInfo(si); err != nil {
		return nil, err
	}
	return sig, nil
}

// readAlgorithm reads an AlgorithmIdentifier and returns its OID.
func readAlgorithm(s *cryptobyte.String) (encasn1.ObjectIdentifier, error) {
	var alg cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !s.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, errors.New("malformed AlgorithmIdentifier")
	}
	// Parameters: absent or anything (NULL in practice).
	if !alg.Empty() {
		var tag asn1.Tag
		var v cryptobyte.String
		if !alg.ReadAnyASN1(&v, &tag) || !alg.Empty() {
			return nil, errors.New("malformed AlgorithmIdentifier parameters")
		}
	}
	return oid, nil
}

// parseIDC parses SpcIndirectDataContent's content: data
// (SpcAttributeTypeAndOptionalValue, type SpcPeImageData) and messageDigest
// (DigestInfo).
func (sig *signature) parseIDC(idc cryptobyte.String) error {
	var data, di cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !idc.ReadASN1(&data, asn1.SEQUENCE) || !data.ReadASN1ObjectIdentifier(&oid) {
		return malformed("SpcIndirectDataContent has no data")
	}
	if !oid.Equal(oidSpcPEImageData) {
		return fmt.Errorf("SpcIndirectDataContent holds %v, not SpcPeImageData (1.3.6.1.4.1.311.2.1.15)", oid)
	}
	if !idc.ReadASN1(&di, asn1.SEQUENCE) || !idc.Empty() {
		return malformed("SpcIndirectDataContent has no DigestInfo at its end")
	}
	alg, err := readAlgorithm(&di)
	if err != nil {
		return malformed("SpcIndirectDataContent digest algorithm: %v", err)
	}
	var digest cryptobyte.String
	if !di.ReadASN1(&digest, asn1.OCTET_STRING) || !di.Empty() {
		return malformed("SpcIndirectDataContent has no digest OCTET STRING")
	}
	h, ok := hashFromOID(alg)
	if !ok {
		return fmt.Errorf("SpcIndirectDataContent digest algorithm %v is not SHA-1/256/384/512", alg)
	}
	if len(digest) != h.Size() {
		return fmt.Errorf("SpcIndirectDataContent digest is %d bytes, not the %d of %v", len(digest), h.Size(), h)
	}
	sig.idcDigestHash, sig.idcDigest = h, digest
	return nil
}

func (sig *signature) parseSignerInfo(si cryptobyte.String) error {
	var version int64
	if !si.ReadASN1Integer(&version) || version != 1 {
		return malformed("SignerInfo version is not 1 (issuerAndSerialNumber)")
	}
	var ias cryptobyte.String
	var issuer, serial cryptobyte.String
	if !si.ReadASN1(&ias, asn1.SEQUENCE) || !ias.ReadASN1Element(&issuer, asn1.SEQUENCE) ||
		!ias.ReadASN1Element(&serial, asn1.INTEGER) || !ias.Empty() {
		return malformed("SignerInfo issuerAndSerialNumber")
	}
	sig.signerIssuer, sig.signerSerial = issuer, serial
	alg, err := readAlgorithm(&si)
	if err != nil {
		return malformed("SignerInfo digestAlgorithm: %v", err)
	}
	h, ok := hashFromOID(alg)
	if !ok {
		return fmt.Errorf("SignerInfo digest algorithm %v is not SHA-1/256/384/512", alg)
	}
	sig.signerHash = h
	var attrs cryptobyte.String
	if !si.ReadOptionalASN1(&attrs, &sig.hasAttrs, asn1.Tag(0).Constructed().ContextSpecific()) {
		return malformed("SignerInfo authenticatedAttributes")
	}
	if sig.hasAttrs {
		sig.attrs = attrs
		if err := sig.parseAttributes(attrs); err != nil {
			return err
		}
	}
	if sig.sigAlg, err = readAlgorithm(&si); err != nil {
		return malformed("SignerInfo digestEncryptionAlgorithm: %v", err)
	}
	var enc cryptobyte.String
	if !si.ReadASN1(&enc, asn1.OCTET_STRING) {
		return malformed("SignerInfo encryptedDigest")
	}
	sig.sig = enc
	// unauthenticatedAttributes [1] (timestamps, nested signatures) may follow.
	if !si.SkipOptionalASN1(asn1.Tag(1).Constructed().ContextSpecific()) || !si.Empty() {
		return malformed("trailing data in SignerInfo")
	}
	return nil
}

func (sig *signature) parseAttributes(attrs cryptobyte.String) error {
	seen := map[string]bool{}
	for !attrs.Empty() {
		var a, values cryptobyte.String
		var oid encasn1.ObjectIdentifier
		if !attrs.ReadASN1(&a, asn1.SEQUENCE) || !a.ReadASN1ObjectIdentifier(&oid) ||
			!a.ReadASN1(&values, asn1.SET) || !a.Empty() {
			return malformed("an authenticated attribute")
		}
		if seen[oid.String()] {
			return fmt.Errorf("authenticated attribute %v appears twice", oid)
		}
		seen[oid.String()] = true
		switch {
		case oid.Equal(oidMessageDigest):
			var md cryptobyte.String
			if !values.ReadASN1(&md, asn1.OCTET_STRING) || !values.Empty() {
				return malformed("the messageDigest attribute is not one OCTET STRING")
			}
			sig.messageDigest = md
		case oid.Equal(oidSigningTime):
			var v cryptobyte.String
			var tag asn1.Tag
			if !values.ReadAnyASN1(&v, &tag) || !values.Empty() {
				return malformed("the signingTime attribute")
			}
			t, err := parseTime(tag, string(v))
			if err != nil {
				return malformed("signingTime: %v", err)
			}
			sig.signingTime = t
		}
	}
	if sig.messageDigest == nil {
		return errors.New("the authenticated attributes have no messageDigest")
	}
	return nil
}

func parseTime(tag asn1.Tag, v string) (time.Time, error) {
	switch tag {
	case asn1.UTCTime:
		t, err := time.Parse("060102150405Z0700", v)
		if err != nil {
			return time.Time{}, err
		}
		if t.Year() >= 2050 {
			t = t.AddDate(-100, 0, 0)
		}
		return t.UTC(), nil
	case asn1.GeneralizedTime:
		t, err := time.Parse("20060102150405Z0700", v)
		return t.UTC(), err
	}
	return time.Time{}, fmt.Errorf("tag %d is not a time", tag)
}

// signer returns the embedded certificate that issuerAndSerialNumber names.
func (sig *signature) signer() *x509.Certificate {
	for _, c := range sig.certs {
		serial, err := certSerialTLV(c.RawTBSCertificate)
		if err == nil && bytes.Equal(c.RawIssuer, sig.signerIssuer) && bytes.Equal(serial, sig.signerSerial) {
			return c
		}
	}
	return nil
}
