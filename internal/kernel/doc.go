// Package kernel inspects Linux kernel images the way systemd's ukify
// (version 262.1) does before it puts a kernel into a Unified Kernel Image.
//
// It provides three things:
//
//   - Format detection by magic number ([Detect]), mirroring ukify's
//     maybe_decompress, plus xz which ukify does not recognise.
//   - Streaming decompression ([Decompress], [MaybeDecompress]) of gzip,
//     bzip2, zstd, lz4 (legacy and frame), lzma-alone, xz and EFI zboot
//     images. Output is never buffered in full; a limit ([Options.Limit],
//     by default [MaxRatio] times the input, between [MinLimit] and
//     [DefaultLimit]) guards against decompression bombs.
//   - Kernel release ("uname -r") detection ([DetectUname]) that reproduces
//     ukify's Uname.scrape: the x86 real-mode header, then the ELF
//     build-salt note, then a streaming scan for "Linux version X.Y".
//
// # How ukify uses these (make_uki)
//
// ukify keeps a kernel that pefile accepts as a PE image unchanged (this
// includes EFI zboot images, which are PE files). Only a kernel that is
// not a PE image is passed through maybe_decompress, and the result becomes
// the .linux section. When maybe_decompress raises NotImplementedError
// (unknown format, LZO) ukify prints
//
//	<path> is not a valid PE file and cannot be decompressed either
//
// and keeps the file as is. A caller reproduces this with:
//
//	if kernel.IsPE(r, size) {
//		// use the file unchanged
//	} else if rc, _, err := opts.MaybeDecompress(r, size); err == nil {
//		// "<path> is compressed and cannot be loaded by UEFI, decompressing"
//		// .linux is the content of rc
//	} else if errors.Is(err, kernel.ErrUnknownFormat) || errors.Is(err, kernel.ErrUnsupported) {
//		// "<path> is not a valid PE file and cannot be decompressed either"
//		// use the file unchanged
//	} else {
//		// ukify aborts with a traceback here (corrupt stream etc.)
//	}
//
// ukify then runs Uname.scrape on the file that became .linux (the
// decompressed copy when it decompressed), which corresponds to
// [Options.DetectUname] on that content.
//
// All functions accept arbitrary bytes without panicking; every error names
// the defect and wraps a sentinel ([ErrUnknownFormat], [ErrUnsupported],
// [ErrLimit], [ErrCorrupt], [ErrNoUname]) for errors.Is.
package kernel
