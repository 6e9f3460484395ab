package fsprotect

import (
	"crypto/sha256"
	"hash"
	"io"
)

// RootOf computes the root hash of an image without the key. It checks what
// the root commits to: that the data region and the index hash to the values
// in the header, so a root that matches the expected one (from the measured
// enclave config) proves that every byte of the image is the one that was
// built. It reads the whole image. It cannot tell whether the image was made
// with a given key; Verify does that.
//
// Errors: ErrTruncated, *FormatError, *UnknownVersionError, *AuthError
// (PartData, PartIndex).
func RootOf(r io.ReaderAt, size int64) ([32]byte, error) {
	h, hb, err := readHeader(r, size)
	if err != nil {
		return [32]byte{}, err
	}
	if err := h.checkLayout(size); err != nil {
		return [32]byte{}, err
	}
	if err := checkHashes(r, h); err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(hb), nil
}

func hashRange(r io.ReaderAt, hh hash.Hash, off, n int64) error {
	if _, err := io.Copy(hh, io.NewSectionReader(r, off, n)); err != nil {
		return err
	}
	return nil
}

func checkHashes(r io.ReaderAt, h *header) error {
	hh := sha256.New()
	if err := hashRange(r, hh, 0, int64(h.indexOff)); err != nil {
		return err
	}
	if [32]byte(hh.Sum(nil)) != h.dataHash {
		return &AuthError{Part: PartData, Msg: "hash mismatch"}
	}
	hh.Reset()
	if err := hashRange(r, hh, int64(h.indexOff), int64(h.indexLen)); err != nil {
		return err
	}
	if [32]byte(hh.Sum(nil)) != h.indexHash {
		return &AuthError{Part: PartIndex, Msg: "hash mismatch"}
	}
	return nil
}

// Verify checks a whole image with the key: the header, the index, the hash
// of the data region, and every chunk of every file. Options: WithExpectedRoot.
// It returns nil or the first failure (see Open and RootOf for the errors).
func Verify(r io.ReaderAt, size int64, key Key, opts ...Option) error {
	rd, err := Open(r, size, key, opts...)
	if err != nil {
		return err
	}
	return rd.Verify()
}

// Verify authenticates every chunk of every file of the opened image (so a
// modified chunk is reported with its file and chunk number), then checks
// the keyless hashes of the data region and the index.
func (rd *Reader) Verify() error {
	// Whole files in 1 MiB steps: readChunks decrypts them on all cores.
	step := max(uint64(1)<<20>>rd.hdr.chunkLog2, 1)
	buf := make([]byte, step<<rd.hdr.chunkLog2)
	for i := range rd.x.inodes {
		in := &rd.x.inodes[i]
		if in.typ != typeFile {
			continue
		}
		n := chunkCount(in.size, rd.hdr.chunkLog2)
		for c := uint64(0); c < n; c += step {
			if _, err := rd.readChunks(uint32(i+1), in, c, min(step, n-c), buf); err != nil {
				return err
			}
		}
	}
	return checkHashes(rd.r, rd.hdr)
}
