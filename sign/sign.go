package sign

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/ukibuild/ukibuild/internal/atomicfile"
	"github.com/ukibuild/ukibuild/internal/ctxio"
	"github.com/ukibuild/ukibuild/internal/fanout"
	"github.com/ukibuild/ukibuild/internal/pe"
)

// Profile selects the authenticated attributes and the encoding details of a
// signature.
type Profile int

const (
	// ProfileDefault makes reproducible signatures: authenticated attributes
	// contentType and messageDigest, plus signingTime when
	// Options.SigningTime is set; an empty SpcPeImageData flags BIT STRING;
	// the embedded certificates in DER SET OF order; WIN_CERTIFICATE
	// dwLength without the padding.
	ProfileDefault Profile = iota
	// ProfileSbsign reproduces sbsign (sbsigntool 0.9.4 with OpenSSL 3)
	// byte for byte: contentType, signingTime, messageDigest and OpenSSL's
	// SMIMECapabilities; empty flags; the signer certificate first, then
	// Chain in order; dwLength without the padding. Options.SigningTime is
	// required (sbsign uses the current time).
	ProfileSbsign
	// ProfileOsslsigncode reproduces osslsigncode 2.9 ("sign -h sha256
	// -time T", optionally -n, -i, -comm) byte for byte: contentType,
	// signingTime, SpcStatementType, SpcSpOpusInfo (with -n or -i) and
	// messageDigest; flags with the first bit set (03 02 07 80); the
	// certificates in DER order; dwLength including the padding.
	// Options.SigningTime is required. (osslsigncode replaces an existing
	// signature rather than adding one: set Options.Replace to match it on
	// signed input.)
	ProfileOsslsigncode
	// ProfileSystemdSbsign reproduces systemd-sbsign (systemd 257 and
	// later; checked against 262.1 with OpenSSL 3) byte for byte:
	// contentType, signingTime, messageDigest and an empty
	// SMIMECapabilities (systemd's src/sbsign/sbsign.c adds one with no
	// capabilities); empty flags; the signer certificate only; dwLength
	// without the padding. systemd-sbsign signs with SHA-256 only and
	// embeds no further certificates, so Hash must be SHA-256 (or zero)
	// and Chain empty. Options.SigningTime is required (systemd-sbsign
	// takes SOURCE_DATE_EPOCH, else the current time). Its offline files
	// (--prepare-offline-signing, --signed-data) are those of
	// Request.SignedAttributes and Request.AdoptSignedAttributes.
	ProfileSystemdSbsign
)

// profiles lists the profiles in the order ParseProfile names them.
var profiles = []Profile{ProfileDefault, ProfileSbsign, ProfileOsslsigncode, ProfileSystemdSbsign}

func (p Profile) String() string {
	switch p {
	case ProfileDefault:
		return "default"
	case ProfileSbsign:
		return "sbsign"
	case ProfileOsslsigncode:
		return "osslsigncode"
	case ProfileSystemdSbsign:
		return "systemd-sbsign"
	}
	return "Profile(" + strconv.Itoa(int(p)) + ")"
}

// ParseProfile maps "default", "sbsign", "osslsigncode" or "systemd-sbsign"
// to a Profile.
func ParseProfile(s string) (Profile, error) {
	for _, p := range profiles {
		if p.String() == s {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown signature profile %q (want default, sbsign, osslsigncode or systemd-sbsign)", s)
}

// Options control signing.
type Options struct {
	// Certificate is the signer's certificate; its RSA public key must
	// match the signer. Required to sign (not to compute a Request's
	// attributes).
	Certificate *x509.Certificate
	// Chain lists further certificates (intermediates) to embed.
	Chain []*x509.Certificate
	// Hash is the digest algorithm: crypto.SHA256 (the default when zero),
	// crypto.SHA384 or crypto.SHA512.
	Hash crypto.Hash
	// Profile selects the attribute set (ProfileDefault when zero).
	Profile Profile
	// SigningTime, when not zero, adds the signingTime attribute (whole
	// seconds, UTC). See SourceDateEpoch.
	SigningTime time.Time
	// ProgramName and MoreInfoURL fill SpcSpOpusInfo (osslsigncode's -n
	// and -i); ProfileOsslsigncode only.
	ProgramName, MoreInfoURL string
	// Commercial selects the commercial code signing purpose in
	// SpcStatementType (osslsigncode's -comm); ProfileOsslsigncode only.
	Commercial bool
	// Replace drops the signatures the image already has; by default a new
	// signature is appended to the certificate table.
	Replace bool
}

func (o *Options) hash() crypto.Hash {
	if o.Hash == 0 {
		return crypto.SHA256
	}
	return o.Hash
}

func (o *Options) check() error {
	if _, err := hashOID(o.hash()); err != nil {
		return err
	}
	switch o.Profile {
	case ProfileDefault, ProfileSbsign, ProfileSystemdSbsign:
		if o.ProgramName != "" || o.MoreInfoURL != "" || o.Commercial {
			return fmt.Errorf("ProgramName, MoreInfoURL and Commercial need the osslsigncode profile, not %v", o.Profile)
		}
	case ProfileOsslsigncode:
	default:
		return fmt.Errorf("unknown signature profile %d", int(o.Profile))
	}
	if o.Profile == ProfileSystemdSbsign {
		if o.hash() != crypto.SHA256 {
			return fmt.Errorf("the systemd-sbsign profile signs with SHA-256 only (systemd-sbsign has no digest option), not %v", o.hash())
		}
		if len(o.Chain) > 0 {
			return errors.New("the systemd-sbsign profile embeds the signer certificate only (systemd-sbsign takes no intermediate certificates): leave Chain empty or use the sbsign profile")
		}
	}
	if o.Profile != ProfileDefault && o.SigningTime.IsZero() {
		return fmt.Errorf("the %v profile needs a signing time (%v always adds one)", o.Profile, o.Profile)
	}
	return nil
}

// SourceDateEpoch parses a SOURCE_DATE_EPOCH value (decimal seconds since
// 1970-01-01 UTC, https://reproducible-builds.org/specs/source-date-epoch/)
// into a signing time; an empty value gives the zero time (no signingTime).
// The library never reads the environment: the caller passes
// os.Getenv("SOURCE_DATE_EPOCH").
func SourceDateEpoch(value string) (time.Time, error) {
	if value == "" {
		return time.Time{}, nil
	}
	for _, c := range value {
		if c < '0' || c > '9' {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is not a non-negative decimal integer", value)
		}
	}
	n, err := strconv.ParseInt(value, 10, 64)
	if err != nil || n > 253402300799 { // 9999-12-31T23:59:59Z
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH %q is out of range", value)
	}
	return time.Unix(n, 0).UTC(), nil
}

// ErrUnsupportedKey is wrapped by the errors for keys and certificates UEFI
// Secure Boot cannot use.
var ErrUnsupportedKey = errors.New("unsupported key for UEFI Secure Boot")

// checkPublicKey accepts RSA keys of 2048, 3072 or 4096 bits.
func checkPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048, 3072, 4096:
			return nil
		}
		return fmt.Errorf("%w: RSA key of %d bits (use 2048, 3072 or 4096)", ErrUnsupportedKey, k.N.BitLen())
	case *ecdsa.PublicKey:
		return fmt.Errorf("%w: ECDSA; UEFI firmware (EDK2/OVMF) verifies Secure Boot signatures with RSA PKCS#1 v1.5 only and rejects ECDSA", ErrUnsupportedKey)
	case ed25519.PublicKey:
		return fmt.Errorf("%w: Ed25519; UEFI firmware (EDK2/OVMF) verifies Secure Boot signatures with RSA PKCS#1 v1.5 only", ErrUnsupportedKey)
	}
	return fmt.Errorf("%w: %T; UEFI firmware (EDK2/OVMF) verifies Secure Boot signatures with RSA PKCS#1 v1.5 only", ErrUnsupportedKey, pub)
}

// checkCertificate checks that cert carries an RSA (PKCS#1 v1.5) key.
func checkCertificate(cert *x509.Certificate) error {
	if oid, err := spkiAlgorithm(cert.RawSubjectPublicKeyInfo); err == nil && oid.Equal(oidRSASSAPSS) {
		return fmt.Errorf("certificate %q: %w: an RSA-PSS key; UEFI firmware (EDK2/OVMF) verifies Secure Boot signatures with RSA PKCS#1 v1.5 only and rejects RSA-PSS", cert.Subject, ErrUnsupportedKey)
	}
	if err := checkPublicKey(cert.PublicKey); err != nil {
		return fmt.Errorf("certificate %q: %w", cert.Subject, err)
	}
	return nil
}

// Request is an image prepared for signing: its digest, the
// SpcIndirectDataContent and the authenticated attributes are computed, only
// the signature is missing. It supports offline signing: SignedAttributes are
// the bytes to sign (with RSA PKCS#1 v1.5 and Hash) elsewhere, and Attach
// builds the PKCS#7 from the signature. A Request made again from the same
// image and Options has the same SignedAttributes.
type Request struct {
	opts   Options
	im     *image
	digest []byte // Authenticode digest of the signed output
	idc    []byte // SpcIndirectDataContent (DER)
	attrs  []byte // authenticated attributes, concatenated in SET OF order
}

// NewRequest reads the image src (size bytes) and computes what its
// signature covers. The image must have a certificate table directory entry;
// an existing certificate table must be the last thing in the file and
// sound (unless opts.Replace drops it). src is read through ctx: once it is
// done, NewRequest stops before the next read and returns ctx.Err()
// (wrapped); so does the Request's Write, which copies src.
func NewRequest(ctx context.Context, src io.ReaderAt, size int64, opts Options) (*Request, error) {
	src = ctxio.ReaderAt(ctx, src)
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Certificate != nil {
		if err := checkCertificate(opts.Certificate); err != nil {
			return nil, err
		}
	}
	im, err := openImage(src, size)
	if err != nil {
		return nil, err
	}
	if im.signed() && !opts.Replace {
		if im.tableErr != nil {
			return nil, fmt.Errorf("the existing certificate table is corrupt, so no signature can be added to it (Replace drops it): %w", im.tableErr)
		}
		if im.contentEnd%pe.CertTableAlignment != 0 {
			return nil, &pe.FormatError{Defect: fmt.Sprintf("the existing certificate table at %d is not 8-byte aligned", im.contentEnd)}
		}
	}
	digest, err := im.signingDigest(opts.hash())
	if err != nil {
		return nil, err
	}
	r, err := newRequest(opts, digest)
	if err != nil {
		return nil, err
	}
	r.im = im
	return r, nil
}

// newRequest makes the signed content and attributes for an image digest.
func newRequest(opts Options, digest []byte) (*Request, error) {
	flags := []byte{0}
	if opts.Profile == ProfileOsslsigncode {
		flags = []byte{7, 0x80}
	}
	idc, err := spcIndirectDataContent(opts.hash(), digest, flags)
	if err != nil {
		return nil, err
	}
	r := &Request{opts: opts, digest: digest, idc: idc}
	r.attrs, err = r.buildAttributes()
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Request) buildAttributes() ([]byte, error) {
	content, err := contentOctets(r.idc)
	if err != nil {
		return nil, err
	}
	h := r.opts.hash()
	hh := h.New()
	hh.Write(content)
	md := der(func(b *cryptobyte.Builder) { b.AddASN1OctetString(hh.Sum(nil)) })
	attrs := [][]byte{
		attribute(oidContentType, oidDER(oidSpcIndirectData)),
		attribute(oidMessageDigest, md),
	}
	if !r.opts.SigningTime.IsZero() {
		attrs = append(attrs, attribute(oidSigningTime, timeDER(r.opts.SigningTime)))
	}
	switch r.opts.Profile {
	case ProfileSbsign:
		attrs = append(attrs, attribute(oidSMIMECapabilities, smimeCapabilities()))
	case ProfileSystemdSbsign:
		attrs = append(attrs, attribute(oidSMIMECapabilities, emptySMIMECapabilities()))
	case ProfileOsslsigncode:
		attrs = append(attrs, attribute(oidSpcStatementType, spcStatementType(r.opts.Commercial)))
		if r.opts.ProgramName != "" || r.opts.MoreInfoURL != "" {
			attrs = append(attrs, attribute(oidSpcSpOpusInfo, spcSpOpusInfo(r.opts.ProgramName, r.opts.MoreInfoURL)))
		}
	}
	return sortedSet(attrs), nil
}

// Hash is the digest algorithm of the signature.
func (r *Request) Hash() crypto.Hash { return r.opts.hash() }

// ImageDigest is the Authenticode digest of the signed image.
func (r *Request) ImageDigest() []byte { return slices.Clone(r.digest) }

// SignedAttributes returns the bytes the signature covers: the DER encoding
// of the authenticated attributes as a SET OF (tag 0x31). A hash-only signer
// signs Hash() of these bytes with RSA PKCS#1 v1.5.
func (r *Request) SignedAttributes() []byte {
	return der(func(b *cryptobyte.Builder) {
		b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(r.attrs) })
	})
}

// ErrAttributesMismatch is wrapped by AdoptSignedAttributes's error when
// the attributes were not made for the request's image and options.
var ErrAttributesMismatch = errors.New("the signed attributes do not belong to this image and these options")

// AdoptSignedAttributes makes the request use authenticated attributes
// prepared earlier, in the first step of an offline signing: the
// SignedAttributes of a Request for the same image and options (made at
// another time, perhaps with another signing time), or the file
// "systemd-sbsign sign --prepare-offline-signing" writes (with
// ProfileSystemdSbsign), which holds the same bytes. Their signingTime
// replaces Options.SigningTime (none: no signingTime); everything else
// must be byte for byte what this request's image and options give, else
// the error wraps ErrAttributesMismatch. Attach then takes a signature of
// attrs.
func (r *Request) AdoptSignedAttributes(attrs []byte) error {
	s := cryptobyte.String(attrs)
	var set cryptobyte.String
	if !s.ReadASN1(&set, asn1.SET) || !s.Empty() {
		return errors.New("the signed attributes are not one DER SET OF Attribute")
	}
	var parsed signature
	if err := parsed.parseAttributes(set); err != nil {
		return fmt.Errorf("the signed attributes: %w", err)
	}
	opts := r.opts
	opts.SigningTime = parsed.signingTime
	if opts.Profile != ProfileDefault && opts.SigningTime.IsZero() {
		return fmt.Errorf("%w: they have no signingTime, which the %v profile always has", ErrAttributesMismatch, opts.Profile)
	}
	want, err := (&Request{opts: opts, idc: r.idc}).buildAttributes()
	if err != nil {
		return err
	}
	if !bytes.Equal(set, want) {
		var ours signature
		if err := ours.parseAttributes(cryptobyte.String(want)); err == nil && !bytes.Equal(ours.messageDigest, parsed.messageDigest) {
			return fmt.Errorf("%w: their messageDigest is not that of this image's SpcIndirectDataContent (another image, digest algorithm or profile)", ErrAttributesMismatch)
		}
		return fmt.Errorf("%w: they are not the attribute set of the %v profile", ErrAttributesMismatch, opts.Profile)
	}
	r.opts.SigningTime = opts.SigningTime
	r.attrs = want
	return nil
}

// Sign signs the request with signer (RSA PKCS#1 v1.5) and returns the
// PKCS#7 SignedData (DER).
func (r *Request) Sign(signer crypto.Signer) ([]byte, error) {
	if r.opts.Certificate == nil {
		return nil, errors.New("signing needs the signer's certificate (Options.Certificate)")
	}
	if err := checkPublicKey(signer.Public()); err != nil {
		return nil, err
	}
	if err := matchKey(r.opts.Certificate, signer.Public()); err != nil {
		return nil, err
	}
	h := r.Hash()
	hh := h.New()
	hh.Write(r.SignedAttributes())
	sig, err := signer.Sign(rand.Reader, hh.Sum(nil), h)
	if err != nil {
		return nil, fmt.Errorf("signing with the key of %q: %w", r.opts.Certificate.Subject, err)
	}
	return r.Attach(sig)
}

func matchKey(cert *x509.Certificate, pub crypto.PublicKey) error {
	k, ok := pub.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !k.Equal(cert.PublicKey) {
		return fmt.Errorf("the signing key does not match the public key of certificate %q", cert.Subject)
	}
	return nil
}

// Attach builds the PKCS#7 SignedData (DER) from a signature of
// SignedAttributes made elsewhere, after checking the signature against the
// certificate's public key.
func (r *Request) Attach(signature []byte) ([]byte, error) {
	cert := r.opts.Certificate
	if cert == nil {
		return nil, errors.New("attaching a signature needs the signer's certificate (Options.Certificate)")
	}
	pub, _ := cert.PublicKey.(*rsa.PublicKey)
	h := r.Hash()
	hh := h.New()
	hh.Write(r.SignedAttributes())
	if pub == nil {
		return nil, checkCertificate(cert)
	}
	if err := rsa.VerifyPKCS1v15(pub, h, hh.Sum(nil), signature); err != nil {
		return nil, fmt.Errorf("the signature is not a valid RSA PKCS#1 v1.5 %v signature of the signed attributes by the key of %q: %w", h, cert.Subject, err)
	}
	return r.assemble(signature)
}

// assemble encodes ContentInfo { signedData, SignedData }.
func (r *Request) assemble(signature []byte) ([]byte, error) {
	cert := r.opts.Certificate
	serial, err := certSerialTLV(cert.RawTBSCertificate)
	if err != nil {
		return nil, fmt.Errorf("certificate %q: %w", cert.Subject, err)
	}
	hoid, err := hashOID(r.Hash())
	if err != nil {
		return nil, err
	}
	certs := [][]byte{cert.Raw}
	for _, c := range r.opts.Chain {
		certs = append(certs, c.Raw)
	}
	var certBytes []byte
	if r.opts.Profile == ProfileSbsign {
		certBytes = bytes.Join(certs, nil)
	} else {
		certBytes = sortedSet(certs)
	}
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(oidSignedData)
		b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(1)
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { algorithmIdentifier(b, hoid) })
				b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // contentInfo
					b.AddASN1ObjectIdentifier(oidSpcIndirectData)
					b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(r.idc) })
				})
				b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(certBytes) })
				b.AddASN1(asn1.SET, func(b *cryptobyte.Builder) { // signerInfos
					b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) { // issuerAndSerialNumber
							b.AddBytes(cert.RawIssuer)
							b.AddBytes(serial)
						})
						algorithmIdentifier(b, hoid)
						b.AddASN1(asn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) { b.AddBytes(r.attrs) })
						algorithmIdentifier(b, oidRSAEncryption)
						b.AddASN1OctetString(signature)
					})
				})
			})
		})
	})
	p7, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	if err := checkEDK2Layout(p7); err != nil {
		return nil, err
	}
	return p7, nil
}

// checkEDK2Layout checks the fixed layout EDK2 relies on: ContentInfo,
// its [0] and SignedData all with two-byte long-form lengths (30 82 LL LL,
// A0 82 LL LL, 30 82 LL LL: DxeImageVerificationLib's HashPeImageByType and
// CryptPkcs7VerifyCommon's WrapPkcs7Data), which puts the digest algorithm
// OID's value at offset 32, where HashPeImageByType looks for it.
func checkEDK2Layout(p7 []byte) error {
	if len(p7) < 34 {
		return errors.New("the PKCS#7 SignedData is too short")
	}
	if p7[0] != 0x30 || p7[1] != 0x82 || p7[15] != 0xa0 || p7[16] != 0x82 || p7[19] != 0x30 || p7[20] != 0x82 {
		return fmt.Errorf("the PKCS#7 SignedData (%d bytes) does not have the 30 82/A0 82/30 82 two-byte lengths EDK2 requires (it must be 256 to 65535 bytes long)", len(p7))
	}
	return nil
}

// Write writes the signed image to dst: the image content with the
// certificate table directory entry and the checksum updated, zero padding
// to 8 bytes, the existing certificate table (unless Options.Replace), and a
// new WIN_CERTIFICATE entry (revision 2.0, PKCS_SIGNED_DATA) holding p7, the
// PKCS#7 SignedData from Sign, Attach, or elsewhere (whose image digest must
// be this image's). It returns the size of the signed image. The image is
// streamed; memory use does not depend on its size.
func (r *Request) Write(dst io.WriterAt, p7 []byte) (int64, error) {
	sig, err := parseSignature(p7)
	if err != nil {
		return 0, fmt.Errorf("the signature to attach: %w", err)
	}
	if sig.idcDigestHash == 0 || !bytes.Equal(sig.idcDigest, r.digestFor(sig.idcDigestHash)) {
		return 0, errors.New("the signature to attach is for a different image (its SpcIndirectDataContent digest does not match)")
	}
	im := r.im
	if im == nil {
		return 0, errors.New("this request was made for a stream (see Stream); it cannot copy an image")
	}
	keep := im.signed() && !r.opts.Replace
	contentEnd := im.contentEnd
	tableStart := im.paddedEnd()
	var oldTable int64
	if keep {
		oldTable = int64(im.dir.Size)
	}
	entry := certEntry(p7, r.opts.Profile)
	padded := int64(len(entry))
	tableSize := oldTable + padded
	total := tableStart + tableSize
	if total > 0xffffffff {
		return 0, fmt.Errorf("the signed image would be %d bytes, beyond the 4 GiB the certificate table directory entry can address", total)
	}

	ckOff := im.f.ChecksumOffset()
	sdOff, _ := im.f.SecurityDirOffset()
	var dirEntry [8]byte
	binary.LittleEndian.PutUint32(dirEntry[0:], uint32(tableStart))
	binary.LittleEndian.PutUint32(dirEntry[4:], uint32(tableSize))
	patches := []patch{{ckOff, make([]byte, 4)}, {sdOff, dirEntry[:]}}

	ck := pe.NewChecksum(ckOff)
	w := io.MultiWriter(io.NewOffsetWriter(dst, 0), ck)
	buf := make([]byte, copyBufSize)
	if err := copyPatched(w, im.r, contentEnd, patches, buf); err != nil {
		return 0, err
	}
	clear(buf)
	if _, err := w.Write(buf[:tableStart-contentEnd]); err != nil {
		return 0, err
	}
	if keep {
		if _, err := io.CopyBuffer(w, io.NewSectionReader(im.r, contentEnd, oldTable), buf); err != nil {
			return 0, fmt.Errorf("copying the existing certificate table: %w", err)
		}
	}
	if _, err := w.Write(entry); err != nil {
		return 0, err
	}
	var sum [4]byte
	binary.LittleEndian.PutUint32(sum[:], ck.Sum())
	if _, err := dst.WriteAt(sum[:], ckOff); err != nil {
		return 0, err
	}
	return total, nil
}

// certEntry is the WIN_CERTIFICATE (revision 2.0, PKCS_SIGNED_DATA) holding
// p7, zero-padded to 8 bytes; dwLength leaves the padding out except in the
// osslsigncode profile.
func certEntry(p7 []byte, profile Profile) []byte {
	entryLen := pe.WinCertHeaderSize + len(p7)
	padded := int(pe.RoundUp(uint64(entryLen), pe.CertTableAlignment))
	dwLength := entryLen
	if profile == ProfileOsslsigncode {
		dwLength = padded
	}
	entry := make([]byte, padded)
	binary.LittleEndian.PutUint32(entry[0:], uint32(dwLength))
	binary.LittleEndian.PutUint16(entry[4:], pe.WinCertRevision2)
	binary.LittleEndian.PutUint16(entry[6:], pe.WinCertTypePKCSSigned)
	copy(entry[pe.WinCertHeaderSize:], p7)
	return entry
}

// digestFor returns the signing digest of the image with h (computing it
// when h is not the request's algorithm).
func (r *Request) digestFor(h crypto.Hash) []byte {
	if h == r.Hash() {
		return r.digest
	}
	if r.im == nil {
		return nil
	}
	d, err := r.im.signingDigest(h)
	if err != nil {
		return nil
	}
	return d
}

// WriteFile writes the signed image (see Write) to path atomically: a reader
// sees the old file or the complete new one. A new file gets mode perm.
func (r *Request) WriteFile(path string, perm os.FileMode, p7 []byte) error {
	err := atomicfile.Write(path, perm, func(f *os.File) error {
		_, err := r.Write(f, p7)
		return err
	})
	if err != nil {
		return fmt.Errorf("writing signed image %s: %w", path, err)
	}
	return nil
}

// patch replaces the bytes at Off while copying.
type patch struct {
	off  int64
	data []byte
}

// copyPatched copies r[0:n) to w, replacing the bytes under each patch.
func copyPatched(w io.Writer, r io.ReaderAt, n int64, patches []patch, buf []byte) error {
	for off := int64(0); off < n; {
		b := buf[:min(int64(len(buf)), n-off)]
		if err := pe.ReadFullAt(r, b, off); err != nil {
			return fmt.Errorf("reading %d bytes at offset %d: %w", len(b), off, err)
		}
		for _, p := range patches {
			lo, hi := max(p.off, off), min(p.off+int64(len(p.data)), off+int64(len(b)))
			if lo < hi {
				copy(b[lo-off:hi-off], p.data[lo-p.off:hi-p.off])
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// Sign signs the PE image src (size bytes) with signer and writes the signed
// image to dst, returning its size. See NewRequest and Request.Write. An
// unsigned image whose Authenticode ranges follow file order (any image
// ukibuild or ukify makes) is read once: the digest is computed from the
// bytes as they are copied, on another core (see Stream); others are read
// twice. Once ctx is done, reading stops before the next chunk and Sign
// returns ctx.Err() (wrapped).
func Sign(ctx context.Context, dst io.WriterAt, src io.ReaderAt, size int64, signer crypto.Signer, opts Options) (int64, error) {
	src = ctxio.ReaderAt(ctx, src)
	n, err := signStream(dst, src, size, signer, opts)
	if !errors.Is(err, ErrNotStreamable) {
		return n, err
	}
	req, err := NewRequest(ctx, src, size, opts)
	if err != nil {
		return 0, err
	}
	p7, err := req.Sign(signer)
	if err != nil {
		return 0, err
	}
	return req.Write(dst, p7)
}

// signStream signs src into dst while copying it, or returns
// ErrNotStreamable, having written nothing, for images Stream cannot sign.
func signStream(dst io.WriterAt, src io.ReaderAt, size int64, signer crypto.Signer, opts Options) (int64, error) {
	if err := opts.check(); err != nil {
		return 0, err
	}
	im, err := openImage(src, size)
	if err != nil {
		return 0, err
	}
	if im.signed() {
		return 0, ErrNotStreamable // NewRequest appends or replaces
	}
	if int64(im.f.SizeOfHeaders) > min(size, 64<<20) {
		return 0, ErrNotStreamable // NewRequest explains what is wrong
	}
	head := make([]byte, im.f.SizeOfHeaders)
	if err := pe.ReadFullAt(src, head, 0); err != nil {
		return 0, err
	}
	stream, err := NewStream(head, size, opts)
	if err != nil {
		return 0, err
	}
	if _, err := fanout.Copy(io.NewSectionReader(src, 0, size), io.NewOffsetWriter(dst, 0), stream); err != nil {
		return 0, err
	}
	return stream.Finish(dst, signer)
}

// SignFile signs the PE image at inPath and writes the signed image to
// outPath atomically (outPath may be inPath). A new output file gets the
// input's permissions. Errors name the file. See Sign for how often the
// input is read, and for ctx.
func SignFile(ctx context.Context, inPath, outPath string, signer crypto.Signer, opts Options) error {
	in, err := os.Open(inPath)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	err = atomicfile.Write(outPath, st.Mode().Perm(), func(f *os.File) error {
		_, err := Sign(ctx, f, in, st.Size(), signer, opts)
		return err
	})
	if err != nil {
		return fmt.Errorf("signing %s into %s: %w", inPath, outPath, pe.NameFile(err, inPath))
	}
	return nil
}
