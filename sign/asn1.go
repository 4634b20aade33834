package sign

import (
	"bytes"
	"crypto"
	encasn1 "encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// Object identifiers.
var (
	oidSignedData         = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSpcIndirectData    = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 4}
	oidSpcPEImageData     = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 15}
	oidSpcStatementType   = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 11}
	oidSpcSpOpusInfo      = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 12}
	oidIndividualCodeSign = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 21}
	oidCommercialCodeSign = encasn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 22}
	oidContentType        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSMIMECapabilities  = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 15}
	oidRSAEncryption      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASSAPSS          = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA1WithRSA        = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA      = encasn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey        = encasn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidSHA1               = encasn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256             = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384             = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512             = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oidAES256CBC          = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidAES192CBC          = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES128CBC          = encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidDESEDE3CBC         = encasn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidRC2CBC             = encasn1.ObjectIdentifier{1, 2, 840, 113549, 3, 2}
	oidDESCBC             = encasn1.ObjectIdentifier{1, 3, 14, 3, 2, 7}
)

// hashOID returns the digest algorithm OID of h.
func hashOID(h crypto.Hash) (encasn1.ObjectIdentifier, error) {
	switch h {
	case crypto.SHA256:
		return oidSHA256, nil
	case crypto.SHA384:
		return oidSHA384, nil
	case crypto.SHA512:
		return oidSHA512, nil
	}
	return nil, fmt.Errorf("digest algorithm %v is not supported (use SHA-256, SHA-384 or SHA-512)", h)
}

// hashFromOID maps a digest algorithm OID to a hash; SHA-1 is recognised so
// that verification can name it.
func hashFromOID(oid encasn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1, true
	case oid.Equal(oidSHA256):
		return crypto.SHA256, true
	case oid.Equal(oidSHA384):
		return crypto.SHA384, true
	case oid.Equal(oidSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

// algorithmIdentifier adds SEQUENCE { oid, NULL }.
func algorithmIdentifier(b *cryptobyte.Builder, oid encasn1.ObjectIdentifier) {
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1NULL()
	})
}

// obsoleteLink is the SpcLink every Authenticode PE signature carries in
// SpcPeImageData: file = SpcString unicode "<<<Obsolete>>>" (BMPString,
// UTF-16BE).
func obsoleteLink(b *cryptobyte.Builder) {
	b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // SpcLink [0] EXPLICIT
		b.AddASN1(asn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { // file [2] EXPLICIT SpcString
			b.AddASN1(asn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { // unicode [0] IMPLICIT BMPString
				for _, c := range "<<<Obsolete>>>" {
					b.AddUint16(uint16(c))
				}
			})
		})
	})
}

// spcIndirectDataContent encodes SpcIndirectDataContent for a PE image
// digest. flags are the content octets of SpcPeImageData's flags BIT STRING
// (unused-bits octet first).
func spcIndirectDataContent(h crypto.Hash, digest, flags []byte) ([]byte, error) {
	oid, err := hashOID(h)
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SpcAttributeTypeAndOptionalValue
			b.AddASN1ObjectIdentifier(oidSpcPEImageData)
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SpcPeImageData
				b.AddASN1(asn1.BIT_STRING, func(b *cryptobyte.Builder) { b.AddBytes(flags) })
				obsoleteLink(b)
			})
		})
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // DigestInfo
			algorithmIdentifier(b, oid)
			b.AddASN1OctetString(digest)
		})
	})
	return b.Bytes()
}

// contentOctets returns the contents of the DER element der (its value
// without tag and length).
func contentOctets(der []byte) ([]byte, error) {
	s := cryptobyte.String(der)
	var tag asn1.Tag
	var content cryptobyte.String
	if !s.ReadAnyASN1(&content, &tag) || !s.Empty() {
		return nil, errors.New("malformed DER element")
	}
	return content, nil
}

// attribute encodes Attribute ::= SEQUENCE { type OID, values SET { value } }
// with the value's DER given.
func attribute(oid encasn1.ObjectIdentifier, value []byte) []byte {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(value) })
	})
	return b.BytesOrPanic()
}

func der(f func(b *cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

func oidDER(oid encasn1.ObjectIdentifier) []byte {
	return der(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
}

// timeDER encodes a PKCS#9 signingTime value: UTCTime for the years 1950
// through 2049, GeneralizedTime otherwise (RFC 5652, section 11.3), whole
// seconds in UTC.
func timeDER(t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y >= 1950 && y < 2050 {
		return der(func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.UTCTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(t.Format("060102150405Z"))) })
		})
	}
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.GeneralizedTime, func(b *cryptobyte.Builder) { b.AddBytes([]byte(t.Format("20060102150405Z"))) })
	})
}

// smimeCapabilities is the SMIMECapabilities value OpenSSL's
// PKCS7_sign_add_signer adds (without PKCS7_NOSMIMECAP), and hence sbsign:
// AES-256/192/128-CBC, DES-EDE3-CBC, RC2-CBC 128, RC2-CBC 64, DES-CBC,
// RC2-CBC 40, in that order.
func smimeCapabilities() []byte {
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			capab := func(oid encasn1.ObjectIdentifier, bits int64) {
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(oid)
					if bits > 0 {
						b.AddASN1Int64(bits)
					}
				})
			}
			capab(oidAES256CBC, 0)
			capab(oidAES192CBC, 0)
			capab(oidAES128CBC, 0)
			capab(oidDESEDE3CBC, 0)
			capab(oidRC2CBC, 128)
			capab(oidRC2CBC, 64)
			capab(oidDESCBC, 0)
			capab(oidRC2CBC, 40)
		})
	})
}

// emptySMIMECapabilities is the SMIMECapabilities value systemd-sbsign adds
// to say it has none (src/sbsign/sbsign.c, pkcs7_new_with_attributes,
// systemd 257 to 262): an empty SEQUENCE.
func emptySMIMECapabilities() []byte {
	return der(func(b *cryptobyte.Builder) { b.AddASN1(asn1.SEQUENCE, func(*cryptobyte.Builder) {}) })
}

// spcStatementType encodes SpcStatementType ::= SEQUENCE OF OID with one
// purpose, as osslsigncode adds it.
func spcStatementType(commercial bool) []byte {
	oid := oidIndividualCodeSign
	if commercial {
		oid = oidCommercialCodeSign
	}
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	})
}

// spcSpOpusInfo encodes SpcSpOpusInfo as osslsigncode does for -n and -i:
// programName [0] EXPLICIT SpcString ascii [1] IMPLICIT IA5String,
// moreInfo [1] EXPLICIT SpcLink url [0] IMPLICIT IA5String.
func spcSpOpusInfo(name, url string) []byte {
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
			if name != "" {
				b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.Tag(1).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(name)) })
				})
			}
			if url != "" {
				b.AddASN1(asn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					b.AddASN1(asn1.Tag(0).ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes([]byte(url)) })
				})
			}
		})
	})
}

// sortedSet returns the concatenation of elems in DER SET OF order
// (ascending by encoding, X.690 11.6), as OpenSSL orders authenticated
// attributes when it encodes them.
func sortedSet(elems [][]byte) []byte {
	s := slices.Clone(elems)
	slices.SortStableFunc(s, bytes.Compare)
	return bytes.Join(s, nil)
}

// certSerialTLV returns the DER INTEGER (tag, length, value) of a
// certificate's serial number, copied from its TBSCertificate so that it is
// reproduced exactly.
func certSerialTLV(rawTBS []byte) ([]byte, error) {
	s := cryptobyte.String(rawTBS)
	var tbs cryptobyte.String
	if !s.ReadASN1(&tbs, asn1.SEQUENCE) {
		return nil, errors.New("malformed TBSCertificate")
	}
	if !tbs.SkipOptionalASN1(asn1.Tag(0).Constructed().ContextSpecific()) {
		return nil, errors.New("malformed TBSCertificate version")
	}
	var serial cryptobyte.String
	if !tbs.ReadASN1Element(&serial, asn1.INTEGER) {
		return nil, errors.New("malformed TBSCertificate serial number")
	}
	return serial, nil
}

// spkiAlgorithm returns the algorithm OID of a SubjectPublicKeyInfo.
func spkiAlgorithm(rawSPKI []byte) (encasn1.ObjectIdentifier, error) {
	s := cryptobyte.String(rawSPKI)
	var spki, alg cryptobyte.String
	var oid encasn1.ObjectIdentifier
	if !s.ReadASN1(&spki, asn1.SEQUENCE) || !spki.ReadASN1(&alg, asn1.SEQUENCE) || !alg.ReadASN1ObjectIdentifier(&oid) {
		return nil, errors.New("malformed SubjectPublicKeyInfo")
	}
	return oid, nil
}
