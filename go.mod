module github.com/ukibuild/ukibuild

go 1.25

require (
	github.com/ThalesGroup/crypto11 v1.5.0
	github.com/alecthomas/kong v1.17.0
	github.com/alecthomas/mango-kong v0.1.0
	github.com/google/go-attestation v0.6.0
	github.com/google/go-tpm v0.9.8
	github.com/klauspost/compress v1.20.4
	github.com/miekg/pkcs11 v1.1.1
	github.com/pierrec/lz4/v4 v4.1.33
	github.com/posener/complete v1.2.3
	github.com/ulikunitz/xz v0.5.17
	github.com/willabides/kongplete v0.4.0
	golang.org/x/crypto v0.45.0
	golang.org/x/sys v0.38.0
	golang.org/x/term v0.37.0
)

require (
	github.com/google/go-tpm-tools v0.4.9 // indirect
	github.com/hashicorp/errwrap v1.1.0 // indirect
	github.com/hashicorp/go-multierror v1.1.1 // indirect
	github.com/muesli/mango v0.1.1-0.20220205060214-77e2058169ab // indirect
	github.com/muesli/roff v0.1.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	github.com/riywo/loginshell v0.0.0-20200815045211-7d26008be1ab // indirect
	github.com/thales-e-security/pool v0.0.2 // indirect
)
