package main

import "github.com/ohem-go/ohem/asm/neon"

// The selection kernels on NEON. Each takes a whole number of vectors (len(x) a multiple of 4);
// the Go wrappers in select_arm64.go finish the last 0–3 elements with the generic code.

// genSelectNEON emits the count, maximum and compaction kernels.
func genSelectNEON(f *neonFile) {
	genCountNEON(f, "countAtLeastNEON", false,
		"returns how many x[i] >= v, NaNs included (v must not be NaN; len(x) a multiple of 4, below 2^31).")
	genCountNEON(f, "countNaNNEON", true,
		"returns how many x[i] are NaN (v is not read; len(x) a multiple of 4, below 2^31).")
	genMaxTargetNEON(f)
	genBandNEON(f)
	genIndicesNEON(f, "indicesAtLeastNEON", false,
		"writes base+i for every x[i] >= v, NaNs included, ascending to dst and returns their count",
		"(v must not be NaN; dst has room for all; len(x) a multiple of 4).")
	genIndicesNEON(f, "indicesNaNNEON", true,
		"writes base+i for every NaN x[i], ascending to dst and returns their count (v is not read;",
		"dst has room for all; len(x) a multiple of 4).")
}

// genCountNEON counts, with four accumulators of −1 per lane, the x[i] < v (nan false) or the
// x[i] == x[i] (nan true); the answer is len(x) plus the (negative) sum.
func genCountNEON(f *neonFile, name string, nan bool, doc string) {
	f.Text(name, []string{"x []float32", "v float32"}, []string{"n int"}, doc)
	f.LdArg("x", "R0")
	f.LdLen("x", "R1")
	f.Op("MOVD R1, R3")
	if !nan {
		f.LdF("v", 0)
		f.DupLane(0, 0, 0)
	}
	for a := neon.Reg(4); a < 8; a++ {
		f.Zero(a)
	}
	cmp := func(d, x neon.Reg) {
		if nan {
			f.Fcmeq(d, x, x) // x is not NaN
		} else {
			f.Fcmgt(d, 0, x) // v > x: false for NaN
		}
	}
	f.scan16(func() {
		for k := neon.Reg(0); k < 4; k++ {
			cmp(20+k, 16+k)
		}
		for k := neon.Reg(0); k < 4; k++ {
			f.AddS(4+k, 4+k, 20+k)
		}
	}, func() {
		cmp(20, 16)
		f.AddS(4, 4, 20)
	})
	f.AddS(4, 4, 5)
	f.AddS(6, 6, 7)
	f.AddS(4, 4, 6)
	f.Addv(4, 4)
	f.ToR("R2", 4)
	f.Op("MOVW R2, R2") // sign-extend the negative count
	f.Op("ADD R2, R3, R3")
	f.Ret("n", "R3")
	f.Op("RET")
}

func genMaxTargetNEON(f *neonFile) {
	f.Text("maxTargetNEON", []string{"t []int32"}, []string{"m int32"},
		"returns the largest element of t, or −1 when t is empty (len(t) a multiple of 4).")
	f.LdArg("t", "R0")
	f.LdLen("t", "R1")
	f.Op("MOVW $-1, R2")
	for a := neon.Reg(4); a < 8; a++ {
		f.DupR(a, "R2")
	}
	f.scan16(func() {
		for k := neon.Reg(0); k < 4; k++ {
			f.Smax(4+k, 4+k, 16+k)
		}
	}, func() { f.Smax(4, 4, 16) })
	f.Smax(4, 4, 5)
	f.Smax(6, 6, 7)
	f.Smax(4, 4, 6)
	f.Smaxv(4, 4)
	f.ToR("R2", 4)
	f.RetW("m", "R2")
	f.Op("RET")
}

// compactTables returns the TBL shuffles that move the lanes set in a 4-bit mask to the front,
// in order (byte indices 4l..4l+3 of each selected lane l; 0xff, which TBL turns into 0, after
// them), and the popcount of each mask.
func compactTables() (shuffle, popcnt []byte) {
	shuffle = make([]byte, 16*16)
	popcnt = make([]byte, 16)
	for m := range 16 {
		k := 0
		for l := range 4 {
			if m&(1<<l) != 0 {
				for b := range 4 {
					shuffle[16*m+4*k+b] = byte(4*l + b)
				}
				k++
			}
		}
		for b := 4 * k; b < 16; b++ {
			shuffle[16*m+b] = 0xff
		}
		popcnt[m] = byte(k)
	}
	return shuffle, popcnt
}

// compactInit loads the mask bits {1, 2, 4, 8} into V3 and the addresses of the shuffle and
// popcount tables into R5 and R6.
func (f *neonFile) compactInit() {
	f.ConstLanes(3, [4]uint32{1, 2, 4, 8})
	shuffle, popcnt := compactTables()
	f.Table("compactShuffle", shuffle, "R5")
	f.Table("compactPopcnt", popcnt, "R6")
}

// compactFastEntry starts the 16-elements-a-time loop of a compacting kernel (label "fast"): on
// to label "loop" once fewer than 16 elements are left (R3) or fewer than 16 fit in the buffer
// (R1 long, R4 used), named buf in the comment.
func (f *neonFile) compactFastEntry(buf string) {
	f.Comment("16 elements at a time while 16 fit in " + buf + ": whole-vector stores only")
	f.Label("fast")
	f.Op("CMP $16, R3")
	f.Op("BLT loop")
	f.Op("SUB R4, R1, R10")
	f.Op("CMP $16, R10")
	f.Op("BLT loop")
}

// compact appends the lanes of V4 selected by the mask bits in V6 (a lane's bit from V3, or 0)
// to the buffer at R0 of R1 elements, R4 of them used: a whole-vector store while 4 lanes fit,
// else one lane at a time, as many as fit. R4 counts every selected lane. V6 is overwritten;
// scratch: V8, V9,
// R7–R11; label names start with tag.
func (f *neonFile) compact(tag string) {
	f.shuffle(4, 6, 8, 9)
	f.Op("SUB R4, R1, R10") // room left
	f.Op("CMP $4, R10")
	f.Op("BLT %sLanes", tag)
	f.Op("ADD R4<<2, R0, R11")
	f.Op("VST1 [V9.S4], (R11)")
	f.Op("ADD R9, R4, R4")
	f.Op("B %sNext", tag)
	f.Label(tag + "Lanes")
	f.Op("CMP R9, R10")
	f.Op("CSEL LT, R10, R9, R10") // min(room, selected)
	f.Op("ADD R4<<2, R0, R11")
	f.Op("ADD R9, R4, R4")
	f.Label(tag + "Lane")
	f.Op("CMP $0, R10")
	f.Op("BLE %sNext", tag)
	f.Op("VST1.P V9.S[0], 4(R11)")
	f.Op("VEXT $4, V9.B16, V9.B16, V9.B16")
	f.Op("SUB $1, R10")
	f.Op("B %sLane", tag)
	f.Label(tag + "Next")
}

// shuffle moves the lanes of V(v) selected by the mask bits in V(bits) (a lane's bit from V3, or
// 0) to the front of V(out), in order, and leaves their count in R9: the 4-bit mask (R7) picks a
// TBL shuffle (into V(tab)) from the table at R5 and a popcount from the table at R6. V(bits) is
// overwritten; scratch R8.
func (f *neonFile) shuffle(v, bits, tab, out neon.Reg) {
	f.Addv(bits, bits)
	f.ToR("R7", bits)         // the 4-bit mask
	f.Op("ADD R7<<4, R5, R8") // its shuffle
	f.Op("VLD1 (R8), [V%d.B16]", tab)
	f.Op("VTBL V%d.B16, [V%d.B16], V%d.B16", tab, v, out) // the selected lanes first
	f.Op("MOVBU (R6)(R7), R9")                            // how many
}

// compactFast appends the lanes of V(v) selected by the mask bits in V(bits) to the buffer at R0,
// R4 of them used, with a whole-vector store (the caller made sure 4 lanes fit). Scratch: V(tab),
// V(out), R7–R9, R11.
func (f *neonFile) compactFast(v, bits, tab, out neon.Reg) {
	f.shuffle(v, bits, tab, out)
	f.Op("ADD R4<<2, R0, R11")
	f.Op("VST1 [V%d.S4], (R11)", out)
	f.Op("ADD R9, R4, R4")
}

func genBandNEON(f *neonFile) {
	f.Text("bandNEON", []string{"buf []float32", "x []float32", "lo float32", "hi float32"},
		[]string{"above int", "inBand int"},
		"counts the x[i] above hi (NaN included) and copies the x[i] in [lo, hi] to buf in order, at",
		"most len(buf) of them, still counting the rest (lo <= hi, neither NaN; len(x) a multiple of 4).")
	f.LdArg("buf", "R0")
	f.LdLen("buf", "R1")
	f.LdArg("x", "R2")
	f.LdLen("x", "R3")
	f.Op("MOVD R3, R12")
	f.LdF("lo", 0)
	f.DupLane(0, 0, 0)
	f.LdF("hi", 1)
	f.DupLane(1, 1, 0)
	f.Zero(2) // −(how many x[i] <= hi)
	f.Op("MOVD ZR, R4")
	f.compactInit()
	f.compactFastEntry("buf")
	mark := f.Count()
	f.Op("VLD1.P 64(R2), [V16.S4, V17.S4, V18.S4, V19.S4]")
	for k := neon.Reg(0); k < 4; k++ {
		f.Fcmge(20+k, 1, 16+k) // x <= hi
		f.AddS(2, 2, 20+k)
		f.Fcmge(24+k, 16+k, 0) // x >= lo
		f.And(24+k, 24+k, 20+k)
		f.And(24+k, 24+k, 3)
		f.compactFast(16+k, 24+k, 8+k, 12+k)
	}
	f.Op("SUB $16, R3")
	f.Op("B fast")
	f.LoopNote(mark, 16)
	f.Comment("then a vector at a time")
	f.Label("loop")
	f.Op("CBZ R3, done")
	mark = f.Count()
	f.Op("VLD1.P 16(R2), [V4.S4]")
	f.Fcmge(5, 1, 4) // x <= hi
	f.AddS(2, 2, 5)
	f.Fcmge(6, 4, 0) // x >= lo
	f.And(6, 6, 5)
	f.And(6, 6, 3)
	f.compact("band")
	f.Op("SUB $4, R3")
	f.Op("B loop")
	f.LoopNote(mark, 4)
	f.Label("done")
	f.Addv(2, 2)
	f.ToR("R7", 2)
	f.Op("MOVW R7, R7")
	f.Op("ADD R7, R12, R12")
	f.Ret("above", "R12")
	f.Ret("inBand", "R4")
	f.Op("RET")
}

func genIndicesNEON(f *neonFile, name string, nan bool, doc ...string) {
	f.Text(name, []string{"dst []int32", "x []float32", "v float32", "base int32"},
		[]string{"n int"}, doc...)
	f.LdArg("dst", "R0")
	f.LdLen("dst", "R1")
	f.LdArg("x", "R2")
	f.LdLen("x", "R3")
	if !nan {
		f.LdF("v", 0)
		f.DupLane(0, 0, 0)
	}
	f.LdW("base", "R7")
	f.DupR(4, "R7")
	f.ConstLanes(10, [4]uint32{0, 1, 2, 3})
	f.AddS(10, 10, 4) // the indices of the current vector
	f.Op("MOVW $4, R7")
	f.DupR(11, "R7")
	f.Op("MOVD ZR, R4")
	f.compactInit()
	f.compactFastEntry("dst")
	mark := f.Count()
	f.Op("VLD1.P 64(R2), [V16.S4, V17.S4, V18.S4, V19.S4]")
	for k := neon.Reg(0); k < 4; k++ {
		if nan {
			f.Fcmeq(20+k, 16+k, 16+k) // not NaN
		} else {
			f.Fcmgt(20+k, 0, 16+k) // v > x: false for NaN
		}
		f.Bic(24+k, 3, 20+k)
		f.compactFast(10, 24+k, 4+k, 12+k) // V10, V11 hold the indices and their step
		f.AddS(10, 10, 11)
	}
	f.Op("SUB $16, R3")
	f.Op("B fast")
	f.LoopNote(mark, 16)
	f.Comment("then a vector at a time")
	f.Label("loop")
	f.Op("CBZ R3, done")
	mark = f.Count()
	f.Op("VLD1.P 16(R2), [V12.S4]")
	if nan {
		f.Fcmeq(5, 12, 12) // not NaN
	} else {
		f.Fcmgt(5, 0, 12) // v > x: false for NaN
	}
	f.Bic(6, 3, 5)
	f.Mov(4, 10)
	f.compact("idx")
	f.AddS(10, 10, 11)
	f.Op("SUB $4, R3")
	f.Op("B loop")
	f.LoopNote(mark, 4)
	f.Label("done")
	f.Ret("n", "R4")
	f.Op("RET")
}

// scan16 emits the loop over the R1 elements at R0 (a multiple of 4) of the reductions into
// V4–V7: 16 a step, V16–V19 loaded, through body16; then 4 a step, V16 loaded, through body4; it
// ends at the label done.
func (f *neonFile) scan16(body16, body4 func()) {
	f.Label("loop16")
	f.Op("CMP $16, R1")
	f.Op("BLT loop4")
	mark := f.Count()
	f.Op("VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4]")
	body16()
	f.Op("SUB $16, R1")
	f.Op("B loop16")
	f.LoopNote(mark, 16)
	f.Label("loop4")
	f.Op("CBZ R1, done")
	f.Op("VLD1.P 16(R0), [V16.S4]")
	body4()
	f.Op("SUB $4, R1")
	f.Op("B loop4")
	f.Label("done")
}
