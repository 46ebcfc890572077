package neon

import (
	"encoding/binary"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/arch/arm64/arm64asm"
)

// TestNEONWords decodes every WORD of the generated ../../ohem_arm64.s with golang.org/x/arch's
// disassembler and checks that it is the instruction its comment names: the encoder's own golden
// test (enc_test.go) covers the encodings, this one that the file carries what it says.

const arm64File = "../../ohem_arm64.s"

var (
	// wordLine is a WORD directive with its comment; a line whose first field is WORD but does not
	// match is an error.
	wordLine = regexp.MustCompile(`^\s*WORD\s+\$0x([0-9a-fA-F]{8})\s*//\s*(\S.*?)\s*$`)
	spaces   = regexp.MustCompile(`\s+`)
)

// gnuText is the GNU syntax of word as arm64asm prints it, normalised for comparison with the
// encoder's text. The only normalisation is of white space (trimmed, runs of it as one space):
// arm64asm.GNUSyntax spells every instruction the encoder emits exactly as the encoder does
// (mnemonic, vN.4s / vN.2d / vN.2s / vN.16b arrangements, sN and dN scalars, vN.s[i] lanes,
// #shift immediates), so no register, mnemonic, alias or arrangement rewriting is done, and any
// difference in them is a mismatch.
func gnuText(word uint32) (string, error) {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], word)
	in, err := arm64asm.Decode(b[:])
	if err != nil {
		return "", err
	}
	return normalise(arm64asm.GNUSyntax(in)), nil
}

func normalise(s string) string { return spaces.ReplaceAllString(strings.TrimSpace(s), " ") }

func TestNEONWords(t *testing.T) {
	src, err := os.ReadFile(arm64File)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(src), "\n") {
		if f := strings.Fields(line); len(f) == 0 || f[0] != "WORD" {
			continue
		}
		m := wordLine.FindStringSubmatch(line)
		if m == nil {
			t.Errorf("%s:%d: WORD without a `$0x........ // text` comment: %q", arm64File, i+1, line)
			continue
		}
		w, err := strconv.ParseUint(m[1], 16, 32)
		if err != nil {
			t.Fatalf("%s:%d: %v", arm64File, i+1, err)
		}
		n++
		got, err := gnuText(uint32(w))
		if err != nil {
			t.Errorf("%s:%d: 0x%08x (%s) does not decode: %v", arm64File, i+1, w, m[2], err)
			continue
		}
		if want := normalise(m[2]); got != want {
			t.Errorf("%s:%d: 0x%08x decodes as %q, comment says %q", arm64File, i+1, w, got, want)
		}
	}
	if n == 0 {
		t.Fatalf("%s has no WORD lines", arm64File)
	}
	t.Logf("%d WORDs of %s decoded", n, arm64File)
}

// TestNEONGoldenDecodes runs the same check over the encoder's golden cases, so every encoder
// function, not only those the kernels use today, is known to agree with the disassembler.
func TestNEONGoldenDecodes(t *testing.T) {
	for _, c := range neonCases() {
		got, err := gnuText(c.in.word)
		if err != nil {
			t.Errorf("%s: 0x%08x (%s) does not decode: %v", c.fn, c.in.word, c.in.text, err)
			continue
		}
		if got != c.in.text {
			t.Errorf("%s: 0x%08x decodes as %q, encoder says %q", c.fn, c.in.word, got, c.in.text)
		}
	}
}
