module github.com/ukibuild/ukibuild

go 1.25

require (
	github.com/alecthomas/kong v1.17.0
	github.com/google/go-tpm v0.9.8
	github.com/klauspost/compress v1.20.4
	github.com/pierrec/lz4/v4 v4.1.33
	github.com/ulikunitz/xz v0.5.17
	golang.org/x/term v0.37.0
)

require (
	github.com/google/go-tpm-tools v0.4.9 // indirect
	golang.org/x/sys v0.38.0 // indirect
)
