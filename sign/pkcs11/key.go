//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ThalesGroup/crypto11"
	p11 "github.com/miekg/pkcs11"
)

// lifecycle serializes every C_Initialize/C_Finalize this package causes
// (its own probes, crypto11's contexts, raw sessions), so that one Key's
// Close cannot finalize a module under another Key's Open.
var lifecycle sync.Mutex

// Key is an RSA private key on a PKCS #11 token. It implements
// crypto.Signer for RSA PKCS #1 v1.5 signatures over SHA-256, SHA-384 and
// SHA-512 digests. It is safe for concurrent use (MaxConcurrentSigns says
// how many signatures the token makes at once); Close releases the token.
type Key struct {
	uri    string // redacted
	module string
	token  TokenInfo
	id     []byte // the key's CKA_ID
	label  []byte // the key's CKA_LABEL

	ctx    *crypto11.Context
	signer crypto11.Signer
	pub    *rsa.PublicKey
	raw    *rawSession // non-nil: sign with CKM_RSA_X_509, padding built here
	par    int         // Sign calls that get a session at once (MaxConcurrentSigns)

	mu     sync.RWMutex // Sign holds it shared, Close exclusively
	closed bool
}

// Mechanism names.
const (
	// MechanismPKCS1 is CKM_RSA_PKCS: the token pads, the caller supplies
	// the DigestInfo (crypto11 builds it).
	MechanismPKCS1 = "CKM_RSA_PKCS"
	// MechanismRawRSA is CKM_RSA_X_509: raw RSA; this package builds the
	// whole EMSA-PKCS1-v1_5 encoding, used when the token offers no
	// CKM_RSA_PKCS for signing.
	MechanismRawRSA = "CKM_RSA_X_509"
)

// Open finds the RSA private key that uri names and logs in to its token.
//
// The module is the URI's module-path, else opts.ModulePath (ErrNoModule
// when both are empty). The token is the one initialized token whose
// label, manufacturer, model, serial, slot and library match the URI's
// attributes that are present. The key is the one RSA private key whose
// CKA_ID and CKA_LABEL match the URI's id and object (all keys when both
// are absent); crypto11 pairs it with the public key or certificate of the
// same CKA_ID, which must be on the token too. type, when present, must be
// "private".
//
// The PIN comes from the URI's pin-source (a file), else its pin-value,
// else opts.PIN. pin-value is allowed by RFC 7512 but puts the PIN in
// command lines, shell history and process listings: prefer pin-source or
// the callback. A token that needs no login is not logged in to.
func Open(uri string, opts Options) (*Key, error) {
	return openKey(uri, opts, false)
}

// openKey is Open; forceRawRSA makes it sign with CKM_RSA_X_509 even when
// the token offers CKM_RSA_PKCS (for tests).
func openKey(uri string, opts Options, forceRawRSA bool) (*Key, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	if t, ok := u.Path("type"); ok && t != "private" {
		return nil, fmt.Errorf("pkcs11: PKCS #11 URI %q has type=%s; a signing key needs type=private (or no type)", u, t)
	}
	module, err := resolveModule(u, opts)
	if err != nil {
		return nil, err
	}

	lifecycle.Lock()
	defer lifecycle.Unlock()

	pr, err := probe(module, u)
	if err != nil {
		return nil, err
	}
	useRaw := !pr.pkcs1 || forceRawRSA
	if useRaw && !pr.raw {
		return nil, fmt.Errorf("pkcs11: token %s offers neither %s nor %s for signing", pr.token, MechanismPKCS1, MechanismRawRSA)
	}

	pin, login, err := resolvePIN(u, opts, pr)
	if err != nil {
		return nil, err
	}
	slot := int(pr.token.SlotID)
	ctx, err := crypto11.Configure(&crypto11.Config{
		Path:              module,
		SlotNumber:        &slot,
		Pin:               pin,
		LoginNotSupported: !login,
		MaxSessions:       maxSessions,
	})
	if err != nil {
		return nil, loginError(err, pr.token, module)
	}
	k := &Key{uri: u.String(), module: module, token: pr.token, ctx: ctx, par: poolSize(pr.maxRW)}
	if err := k.findKey(u); err != nil {
		_ = ctx.Close()
		return nil, err
	}
	if useRaw {
		k.par = 1 // one raw session, used under a mutex
		if k.raw, err = openRaw(module, pr.token.SlotID, k.id, k.label, k.pub); err != nil {
			_ = ctx.Close()
			return nil, fmt.Errorf("pkcs11: opening a %s session on token %s: %w", MechanismRawRSA, pr.token, err)
		}
	}
	return k, nil
}

func resolveModule(u *URI, opts Options) (string, error) {
	if _, ok := u.Query("module-name"); ok {
		if _, ok := u.Query("module-path"); !ok {
			return "", fmt.Errorf("pkcs11: PKCS #11 URI %q: module-name is not supported; give the module's file with module-path", u)
		}
	}
	module, from := opts.ModulePath, "given"
	if mp, ok := u.Query("module-path"); ok {
		module, from = mp, "named by the URI's module-path"
	}
	if module == "" {
		return "", fmt.Errorf("%w: add ?module-path=/path/to/module.so to the URI %q, or set %s", ErrNoModule, u, EnvModule)
	}
	fi, err := os.Stat(module)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", fmt.Errorf("%w: %s (%s): %v", ErrModuleNotFound, module, from, err)
	}
	if fi.IsDir() {
		return "", fmt.Errorf("%w: %s (%s) is a directory, not a module", ErrModuleNotFound, module, from)
	}
	// One name per module file: crypto11 shares an initialized module
	// between contexts by path, and a second C_Initialize through another
	// name (a symlink) would fail.
	if real, err := filepath.EvalSymlinks(module); err == nil {
		if abs, err := filepath.Abs(real); err == nil {
			module = abs
		}
	}
	return module, nil
}

// probeResult is what probe learnt about the token the URI selects.
type probeResult struct {
	token      TokenInfo
	flags      uint // CK_TOKEN_INFO flags
	pkcs1, raw bool // CKM_RSA_PKCS / CKM_RSA_X_509 available for signing
	maxRW      uint // CK_TOKEN_INFO ulMaxRwSessionCount
}

// maxSessions is the crypto11 session limit a Key asks for: crypto11 keeps
// one session logged in and lends the others to Sign calls, one each
// (crypto11 1.5.0, Configure and withSession), so a Key signs up to
// maxSessions-1 digests at once and further calls wait for a session.
const maxSessions = 4

// poolSize is the number of sessions crypto11 lends out at once for a token
// whose ulMaxRwSessionCount is maxRW: crypto11 caps maxSessions by it
// unless it is CK_EFFECTIVELY_INFINITE or CK_UNAVAILABLE_INFORMATION.
func poolSize(maxRW uint) int {
	n := maxSessions
	if maxRW != p11.CK_EFFECTIVELY_INFINITE && maxRW != p11.CK_UNAVAILABLE_INFORMATION && int(maxRW) < n {
		n = int(maxRW)
	}
	return max(n-1, 1)
}

// probe loads the module on its own, selects the token by every RFC 7512
// token, slot and library attribute (crypto11 selects by one only) and
// reads its signing mechanisms, then finalizes the module again unless
// another Key still has it initialized. The caller holds lifecycle.
func probe(module string, u *URI) (probeResult, error) {
	m := p11.New(module)
	if m == nil {
		return probeResult{}, fmt.Errorf("%w: %s could not be loaded as a PKCS #11 module (not a shared library exporting C_GetFunctionList, or a library it needs is missing)", ErrModuleNotFound, module)
	}
	defer m.Destroy()
	if err := m.Initialize(); err != nil {
		if !isRV(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
			return probeResult{}, fmt.Errorf("pkcs11: initializing PKCS #11 module %s: %w", module, err)
		}
	} else {
		defer func() { _ = m.Finalize() }()
	}

	info, err := m.GetInfo()
	if err != nil {
		return probeResult{}, fmt.Errorf("pkcs11: module %s: C_GetInfo: %w", module, err)
	}
	if why := libraryMismatch(u, info); why != "" {
		return probeResult{}, fmt.Errorf("%w the PKCS #11 URI %q: module %s has %s", ErrTokenNotFound, u, module, why)
	}
	slots, err := m.GetSlotList(true)
	if err != nil {
		return probeResult{}, fmt.Errorf("pkcs11: module %s: C_GetSlotList: %w", module, err)
	}
	var all, matches []probeResult
	for _, slot := range slots {
		si, err := m.GetSlotInfo(slot)
		if err != nil {
			return probeResult{}, fmt.Errorf("pkcs11: module %s: C_GetSlotInfo(%d): %w", module, slot, err)
		}
		ti, err := m.GetTokenInfo(slot)
		if err != nil {
			return probeResult{}, fmt.Errorf("pkcs11: module %s: C_GetTokenInfo(%d): %w", module, slot, err)
		}
		if ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		pr := probeResult{
			token: TokenInfo{
				Label:        clean(ti.Label),
				Manufacturer: clean(ti.ManufacturerID),
				Model:        clean(ti.Model),
				Serial:       clean(ti.SerialNumber),
				SlotID:       slot,
			},
			flags: ti.Flags,
			maxRW: ti.MaxRwSessionCount,
		}
		all = append(all, pr)
		if tokenMatches(u, pr.token, si) {
			matches = append(matches, pr)
		}
	}
	switch len(matches) {
	case 0:
		names := make([]string, len(all))
		for i, pr := range all {
			names[i] = pr.token.String()
		}
		avail := "none"
		if len(names) > 0 {
			avail = strings.Join(names, ", ")
		}
		return probeResult{}, fmt.Errorf("%w the PKCS #11 URI %q in module %s (initialized tokens: %s)", ErrTokenNotFound, u, module, avail)
	case 1:
	default:
		names := make([]string, len(matches))
		for i, pr := range matches {
			names[i] = pr.token.String()
		}
		return probeResult{}, fmt.Errorf("%w the PKCS #11 URI %q in module %s: %d tokens do (%s); add token= or serial= to choose one",
			ErrTokenNotFound, u, module, len(matches), strings.Join(names, ", "))
	}
	pr := matches[0]
	pr.pkcs1 = canSign(m, pr.token.SlotID, p11.CKM_RSA_PKCS)
	pr.raw = canSign(m, pr.token.SlotID, p11.CKM_RSA_X_509)
	return pr, nil
}

// canSign reports whether the slot lists mech with the CKF_SIGN flag (or
// lists it and cannot say which flags it has).
func canSign(m *p11.Ctx, slot, mech uint) bool {
	mechs, err := m.GetMechanismList(slot)
	if err != nil {
		return false
	}
	for _, mc := range mechs {
		if mc.Mechanism != mech {
			continue
		}
		mi, err := m.GetMechanismInfo(slot, []*p11.Mechanism{p11.NewMechanism(mech, nil)})
		return err != nil || mi.Flags&p11.CKF_SIGN != 0
	}
	return false
}

// clean removes the blank (and, from sloppy modules, NUL) padding of
// PKCS #11's fixed-width text fields.
func clean(s string) string { return strings.TrimRight(s, " \x00") }

func tokenMatches(u *URI, t TokenInfo, si p11.SlotInfo) bool {
	for _, c := range []struct{ attr, have string }{
		{"token", t.Label},
		{"manufacturer", t.Manufacturer},
		{"model", t.Model},
		{"serial", t.Serial},
		{"slot-description", clean(si.SlotDescription)},
		{"slot-manufacturer", clean(si.ManufacturerID)},
		{"slot-id", fmt.Sprint(t.SlotID)},
	} {
		if want, ok := u.Path(c.attr); ok && want != c.have {
			if c.attr != "slot-id" || strings.TrimLeft(want, "0") != strings.TrimLeft(c.have, "0") {
				return false
			}
		}
	}
	return true
}

// libraryMismatch returns "" when the module matches the URI's library-*
// attributes, else a description of what the module is.
func libraryMismatch(u *URI, info p11.Info) string {
	manuf, desc := clean(info.ManufacturerID), clean(info.LibraryDescription)
	ok := true
	if v, has := u.Path("library-manufacturer"); has && v != manuf {
		ok = false
	}
	if v, has := u.Path("library-description"); has && v != desc {
		ok = false
	}
	if v, has := u.Path("library-version"); has {
		major, minor, _ := parseVersion(v) // validated by ParseURI
		if info.LibraryVersion.Major != major || info.LibraryVersion.Minor != minor {
			ok = false
		}
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("library-manufacturer=%q, library-description=%q, library-version=%d.%d",
		manuf, desc, info.LibraryVersion.Major, info.LibraryVersion.Minor)
}

// resolvePIN returns the PIN to log in with and whether to log in at all.
func resolvePIN(u *URI, opts Options, pr probeResult) (string, bool, error) {
	pin, has, err := uriPIN(u)
	if err != nil {
		return "", false, err
	}
	if has {
		return pin, true, nil
	}
	if pr.flags&p11.CKF_LOGIN_REQUIRED == 0 {
		return "", false, nil
	}
	if pr.flags&p11.CKF_PROTECTED_AUTHENTICATION_PATH != 0 {
		return "", true, nil // the token's own PIN pad asks
	}
	if opts.PIN == nil {
		return "", false, fmt.Errorf("%w for token %s: add pin-source=file:PATH to the URI or give a PIN callback", ErrNoPIN, pr.token)
	}
	pin, err = opts.PIN(pr.token)
	if err != nil {
		return "", false, err
	}
	return pin, true, nil
}

// uriPIN returns the PIN the URI carries (pin-source, else pin-value) and
// whether it carries one.
func uriPIN(u *URI) (string, bool, error) {
	if src, ok := u.Query("pin-source"); ok {
		pin, err := readPINSource(src)
		return pin, true, err
	}
	if v, ok := u.Query("pin-value"); ok {
		return v, true, nil
	}
	return "", false, nil
}

// loginError turns crypto11.Configure's error into one that names the
// token. crypto11's messages never contain the PIN.
func loginError(err error, t TokenInfo, module string) error {
	var rv p11.Error
	if errors.As(err, &rv) {
		switch rv {
		case p11.CKR_PIN_INCORRECT:
			return fmt.Errorf("%w for token %s", ErrPINIncorrect, t)
		case p11.CKR_PIN_LEN_RANGE:
			return fmt.Errorf("%w for token %s (its length is outside the token's range)", ErrPINIncorrect, t)
		case p11.CKR_PIN_LOCKED:
			return fmt.Errorf("%w on token %s: too many wrong PINs; the security officer must reset it", ErrPINLocked, t)
		case p11.CKR_PIN_EXPIRED:
			return fmt.Errorf("pkcs11: the PIN of token %s has expired; set a new one first", t)
		}
	}
	return fmt.Errorf("pkcs11: opening token %s in module %s: %w", t, module, err)
}

// findKey selects the one RSA key pair the URI's id and object name.
func (k *Key) findKey(u *URI) error {
	attrs := crypto11.NewAttributeSet()
	if id, ok := u.Path("id"); ok {
		_ = attrs.Set(crypto11.CkaId, []byte(id))
	}
	if obj, ok := u.Path("object"); ok {
		_ = attrs.Set(crypto11.CkaLabel, []byte(obj))
	}
	found, err := k.ctx.FindKeyPairsWithAttributes(attrs)
	if err != nil {
		return fmt.Errorf("pkcs11: searching token %s for %q: %w", k.token, u, err)
	}
	var rsaKeys []crypto11.Signer
	others := 0
	for _, s := range found {
		if _, ok := s.Public().(*rsa.PublicKey); ok {
			rsaKeys = append(rsaKeys, s)
		} else {
			others++
		}
	}
	switch {
	case len(rsaKeys) == 0 && others > 0:
		return fmt.Errorf("%w %q on token %s: it names %d key(s), none of them RSA; only RSA keys are supported", ErrKeyNotFound, u, k.token, others)
	case len(rsaKeys) == 0:
		return fmt.Errorf("%w %q on token %s (a private key counts only when its public key or certificate, with the same id, is on the token too)", ErrKeyNotFound, u, k.token)
	case len(rsaKeys) > 1:
		names := make([]string, len(rsaKeys))
		for i, s := range rsaKeys {
			id, label := k.keyAttrs(s)
			names[i] = describeKey(id, label)
		}
		return fmt.Errorf("%w %q on token %s: %d keys do (%s); add id= or object= to choose one",
			ErrKeyNotFound, u, k.token, len(rsaKeys), strings.Join(names, ", "))
	}
	k.signer = rsaKeys[0]
	k.pub = rsaKeys[0].Public().(*rsa.PublicKey)
	k.id, k.label = k.keyAttrs(k.signer)
	return nil
}

func (k *Key) keyAttrs(s crypto11.Signer) (id, label []byte) {
	set, err := k.ctx.GetAttributes(s, []crypto11.AttributeType{crypto11.CkaId, crypto11.CkaLabel})
	if err != nil {
		return nil, nil
	}
	if a := set[crypto11.CkaId]; a != nil {
		id = a.Value
	}
	if a := set[crypto11.CkaLabel]; a != nil {
		label = a.Value
	}
	return id, label
}

func describeKey(id, label []byte) string {
	return fmt.Sprintf("object=%q id=%s", label, hex.EncodeToString(id))
}

// Public returns the key's *rsa.PublicKey.
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Sign signs digest, the hash of a message, with RSA PKCS #1 v1.5.
// opts.HashFunc() must be SHA-256, SHA-384 or SHA-512 and digest must have
// its length; *rsa.PSSOptions are refused. rand is ignored: the token
// needs no randomness for PKCS #1 v1.5. The signature is checked against
// the public key before it is returned.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		return nil, errors.New("pkcs11: Sign needs SignerOpts naming the hash (e.g. crypto.SHA256)")
	}
	if _, ok := opts.(*rsa.PSSOptions); ok {
		return nil, errors.New("pkcs11: RSA-PSS is not supported; only RSA PKCS #1 v1.5")
	}
	h := opts.HashFunc()
	if hashOID(h) == nil {
		return nil, fmt.Errorf("pkcs11: hash %v is not supported; use SHA-256, SHA-384 or SHA-512", h)
	}
	if len(digest) != h.Size() {
		return nil, fmt.Errorf("pkcs11: digest is %d bytes, but %v digests are %d", len(digest), h, h.Size())
	}

	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, fmt.Errorf("pkcs11: %s is closed", k)
	}
	var sig []byte
	var err error
	if k.raw != nil {
		var em []byte
		if em, err = emsaPKCS1v15(h, digest, k.pub.Size()); err == nil {
			sig, err = k.raw.sign(em, k.pub.Size())
		}
	} else {
		sig, err = k.signer.Sign(nil, digest, h)
	}
	if err != nil {
		return nil, fmt.Errorf("pkcs11: signing with %s: %w", k, err)
	}
	if err := rsa.VerifyPKCS1v15(k.pub, h, digest, sig); err != nil {
		return nil, fmt.Errorf("pkcs11: the signature %s made does not verify with its public key (does the token's public key object belong to this private key?)", k)
	}
	return sig, nil
}

// MaxConcurrentSigns is how many Sign calls the key serves at once: the
// sessions crypto11 lends out (3, fewer when the token allows fewer
// read-write sessions), or 1 when it signs with CKM_RSA_X_509 through its
// single raw session. Further concurrent calls wait; none fails for it. It
// makes a Key a pcrsig.ConcurrentSigner.
func (k *Key) MaxConcurrentSigns() int { return k.par }

// Certificate returns the X.509 certificate on the token for this key: the
// certificate object with the key's CKA_ID, else (for a key without an ID)
// the one with its label. It fails with ErrNoCertificate when there is
// none, and with an error when the certificate's public key is not the
// key's.
func (k *Key) Certificate() (*x509.Certificate, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	if k.closed {
		return nil, fmt.Errorf("pkcs11: %s is closed", k)
	}
	var cert *x509.Certificate
	var err error
	if len(k.id) > 0 {
		cert, err = k.ctx.FindCertificate(k.id, nil, nil)
	}
	if err == nil && cert == nil && len(k.label) > 0 {
		cert, err = k.ctx.FindCertificate(nil, k.label, nil)
	}
	if err != nil {
		return nil, fmt.Errorf("pkcs11: reading the certificate of %s: %w", k, err)
	}
	if cert == nil {
		return nil, fmt.Errorf("%w: token %s has no certificate object with id %s or label %q", ErrNoCertificate, k.token, hex.EncodeToString(k.id), k.label)
	}
	if pub, ok := cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(k.pub) {
		return nil, fmt.Errorf("pkcs11: the certificate for %s (subject %q) is for a different public key", k, cert.Subject)
	}
	return cert, nil
}

// Token describes the token the key is on.
func (k *Key) Token() TokenInfo { return k.token }

// URI returns the URI the key was opened with, any pin-value redacted.
func (k *Key) URI() string { return k.uri }

// Mechanism returns MechanismPKCS1, or MechanismRawRSA when the token
// offers only raw RSA and this package builds the PKCS #1 v1.5 padding.
func (k *Key) Mechanism() string {
	if k.raw != nil {
		return MechanismRawRSA
	}
	return MechanismPKCS1
}

// String describes the key for messages, e.g.
// `PKCS #11 key object="signer" id=01 on token "test" (serial ...)`.
func (k *Key) String() string {
	return fmt.Sprintf("PKCS #11 key %s on token %s", describeKey(k.id, k.label), k.token)
}

// Close logs out of the token and unloads the module when no other Key
// uses it. Sign and Certificate fail afterwards; closing again does nothing.
func (k *Key) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	lifecycle.Lock()
	defer lifecycle.Unlock()
	if k.raw != nil {
		k.raw.close()
	}
	return k.ctx.Close()
}

func isRV(err error, rv uint) bool {
	var e p11.Error
	return errors.As(err, &e) && uint(e) == rv
}

// hashOID returns the DigestInfo algorithm of the hashes Sign supports.
func hashOID(h crypto.Hash) asn1.ObjectIdentifier {
	switch h {
	case crypto.SHA256:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	case crypto.SHA384:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	case crypto.SHA512:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	}
	return nil
}

// emsaPKCS1v15 builds the RFC 8017 section 9.2 encoding of digest for a
// modulus of k bytes: 00 01 FF...FF 00 DigestInfo.
func emsaPKCS1v15(h crypto.Hash, digest []byte, k int) ([]byte, error) {
	t, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}{pkix.AlgorithmIdentifier{Algorithm: hashOID(h), Parameters: asn1.NullRawValue}, digest})
	if err != nil {
		return nil, err
	}
	if k < len(t)+11 {
		return nil, fmt.Errorf("a %d-bit key is too short for a %v signature", 8*k, h)
	}
	em := make([]byte, k)
	em[1] = 1
	ps := em[2 : k-len(t)-1]
	for i := range ps {
		ps[i] = 0xff
	}
	copy(em[k-len(t):], t)
	return em, nil
}

// rawSession signs with CKM_RSA_X_509 through a second handle on the
// module, which crypto11 has already initialized and logged in (login
// state is per application, so this session is logged in too). crypto11
// offers no raw mechanism and no access to its sessions, hence this.
type rawSession struct {
	mu  sync.Mutex
	m   *p11.Ctx
	own bool // this handle initialized the module (not expected) and must finalize it
	sh  p11.SessionHandle
	key p11.ObjectHandle
}

func openRaw(module string, slot uint, id, label []byte, pub *rsa.PublicKey) (*rawSession, error) {
	m := p11.New(module)
	if m == nil {
		return nil, fmt.Errorf("loading %s again failed", module)
	}
	r := &rawSession{m: m}
	if err := m.Initialize(); err == nil {
		r.own = true
	} else if !isRV(err, p11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		m.Destroy()
		return nil, err
	}
	sh, err := m.OpenSession(slot, p11.CKF_SERIAL_SESSION)
	if err != nil {
		r.release()
		return nil, err
	}
	r.sh = sh
	if r.key, err = r.findPrivate(id, label, pub); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

// findPrivate returns the handle of the RSA private key with the given
// CKA_ID and CKA_LABEL whose modulus is pub's.
func (r *rawSession) findPrivate(id, label []byte, pub *rsa.PublicKey) (p11.ObjectHandle, error) {
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PRIVATE_KEY),
		p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA),
		p11.NewAttribute(p11.CKA_ID, id),
	}
	if len(label) > 0 {
		tmpl = append(tmpl, p11.NewAttribute(p11.CKA_LABEL, label))
	}
	if err := r.m.FindObjectsInit(r.sh, tmpl); err != nil {
		return 0, err
	}
	handles, _, err := r.m.FindObjects(r.sh, 16)
	if ferr := r.m.FindObjectsFinal(r.sh); err == nil {
		err = ferr
	}
	if err != nil {
		return 0, err
	}
	for _, h := range handles {
		a, err := r.m.GetAttributeValue(r.sh, h, []*p11.Attribute{p11.NewAttribute(p11.CKA_MODULUS, nil)})
		if err != nil {
			if len(handles) == 1 {
				return h, nil // modulus not readable; the only candidate
			}
			continue
		}
		if bytes.Equal(bytes.TrimLeft(a[0].Value, "\x00"), pub.N.Bytes()) {
			return h, nil
		}
	}
	return 0, errors.New("the private key was not found again")
}

// sign applies raw RSA to em and returns a k-byte signature.
func (r *rawSession) sign(em []byte, k int) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.m.SignInit(r.sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_X_509, nil)}, r.key); err != nil {
		return nil, err
	}
	sig, err := r.m.Sign(r.sh, em)
	if err != nil {
		return nil, err
	}
	if len(sig) > k {
		return nil, fmt.Errorf("%s returned %d bytes for a %d-byte modulus", MechanismRawRSA, len(sig), k)
	}
	out := make([]byte, k) // some tokens drop leading zero bytes
	copy(out[k-len(sig):], sig)
	return out, nil
}

func (r *rawSession) close() {
	_ = r.m.CloseSession(r.sh)
	r.release()
}

func (r *rawSession) release() {
	if r.own {
		_ = r.m.Finalize()
	}
	r.m.Destroy()
}
