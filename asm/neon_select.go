package main

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
	f.text(name, []param{{"x", "[]float32"}, {"v", "float32"}}, []param{{"n", "int"}}, doc)
	f.ldArg("x", "R0")
	f.ldLen("x", "R1")
	f.op("MOVD R1, R3")
	if !nan {
		f.ldF("v", 0)
		f.dupLane(0, 0, 0)
	}
	for a := vreg(4); a < 8; a++ {
		f.zero(a)
	}
	cmp := func(d, x vreg) {
		if nan {
			f.w(fcmeq(d, x, x)) // x is not NaN
		} else {
			f.w(fcmgt(d, 0, x)) // v > x: false for NaN
		}
	}
	f.label("loop16")
	f.op("CMP $16, R1")
	f.op("BLT loop4")
	mark := f.count
	f.op("VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4]")
	for k := vreg(0); k < 4; k++ {
		cmp(20+k, 16+k)
	}
	for k := vreg(0); k < 4; k++ {
		f.addS(4+k, 4+k, 20+k)
	}
	f.op("SUB $16, R1")
	f.op("B loop16")
	f.loopNote(mark, 16)
	f.label("loop4")
	f.op("CBZ R1, done")
	f.op("VLD1.P 16(R0), [V16.S4]")
	cmp(20, 16)
	f.addS(4, 4, 20)
	f.op("SUB $4, R1")
	f.op("B loop4")
	f.label("done")
	f.addS(4, 4, 5)
	f.addS(6, 6, 7)
	f.addS(4, 4, 6)
	f.addv(4, 4)
	f.toR("R2", 4)
	f.op("MOVW R2, R2") // sign-extend the negative count
	f.op("ADD R2, R3, R3")
	f.ret("n", "R3")
	f.op("RET")
}

func genMaxTargetNEON(f *neonFile) {
	f.text("maxTargetNEON", []param{{"t", "[]int32"}}, []param{{"m", "int32"}},
		"returns the largest element of t, or −1 when t is empty (len(t) a multiple of 4).")
	f.ldArg("t", "R0")
	f.ldLen("t", "R1")
	f.op("MOVW $-1, R2")
	for a := vreg(4); a < 8; a++ {
		f.dupR(a, "R2")
	}
	f.label("loop16")
	f.op("CMP $16, R1")
	f.op("BLT loop4")
	mark := f.count
	f.op("VLD1.P 64(R0), [V16.S4, V17.S4, V18.S4, V19.S4]")
	for k := vreg(0); k < 4; k++ {
		f.w(smax(4+k, 4+k, 16+k))
	}
	f.op("SUB $16, R1")
	f.op("B loop16")
	f.loopNote(mark, 16)
	f.label("loop4")
	f.op("CBZ R1, done")
	f.op("VLD1.P 16(R0), [V16.S4]")
	f.w(smax(4, 4, 16))
	f.op("SUB $4, R1")
	f.op("B loop4")
	f.label("done")
	f.w(smax(4, 4, 5))
	f.w(smax(6, 6, 7))
	f.w(smax(4, 4, 6))
	f.w(smaxv(4, 4))
	f.toR("R2", 4)
	f.retW("m", "R2")
	f.op("RET")
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
	f.constLanes(3, [4]uint32{1, 2, 4, 8})
	shuffle, popcnt := compactTables()
	f.table("compactShuffle", shuffle, "R5")
	f.table("compactPopcnt", popcnt, "R6")
}

// compact appends the lanes of V4 selected by the mask bits in V6 (a lane's bit from V3, or 0)
// to the buffer at R0 of R1 elements, R4 of them used: a whole-vector store while 4 lanes fit,
// else one lane at a time, as many as fit. R4 counts every selected lane. V6 is overwritten;
// scratch: V8, V9,
// R7–R11; label names start with tag.
func (f *neonFile) compact(tag string) {
	f.shuffle(4, 6, 8, 9)
	f.op("SUB R4, R1, R10") // room left
	f.op("CMP $4, R10")
	f.op("BLT %sLanes", tag)
	f.op("ADD R4<<2, R0, R11")
	f.op("VST1 [V9.S4], (R11)")
	f.op("ADD R9, R4, R4")
	f.op("B %sNext", tag)
	f.label(tag + "Lanes")
	f.op("CMP R9, R10")
	f.op("CSEL LT, R10, R9, R10") // min(room, selected)
	f.op("ADD R4<<2, R0, R11")
	f.op("ADD R9, R4, R4")
	f.label(tag + "Lane")
	f.op("CMP $0, R10")
	f.op("BLE %sNext", tag)
	f.op("VST1.P V9.S[0], 4(R11)")
	f.op("VEXT $4, V9.B16, V9.B16, V9.B16")
	f.op("SUB $1, R10")
	f.op("B %sLane", tag)
	f.label(tag + "Next")
}

// shuffle moves the lanes of V(v) selected by the mask bits in V(bits) (a lane's bit from V3, or
// 0) to the front of V(out), in order, and leaves their count in R9: the 4-bit mask (R7) picks a
// TBL shuffle (into V(tab)) from the table at R5 and a popcount from the table at R6. V(bits) is
// overwritten; scratch R8.
func (f *neonFile) shuffle(v, bits, tab, out vreg) {
	f.addv(bits, bits)
	f.toR("R7", bits)         // the 4-bit mask
	f.op("ADD R7<<4, R5, R8") // its shuffle
	f.op("VLD1 (R8), [V%d.B16]", tab)
	f.op("VTBL V%d.B16, [V%d.B16], V%d.B16", tab, v, out) // the selected lanes first
	f.op("MOVBU (R6)(R7), R9")                            // how many
}

// compactFast appends the lanes of V(v) selected by the mask bits in V(bits) to the buffer at R0,
// R4 of them used, with a whole-vector store (the caller made sure 4 lanes fit). Scratch: V(tab),
// V(out), R7–R9, R11.
func (f *neonFile) compactFast(v, bits, tab, out vreg) {
	f.shuffle(v, bits, tab, out)
	f.op("ADD R4<<2, R0, R11")
	f.op("VST1 [V%d.S4], (R11)", out)
	f.op("ADD R9, R4, R4")
}

func genBandNEON(f *neonFile) {
	f.text("bandNEON", []param{{"buf", "[]float32"}, {"x", "[]float32"}, {"lo", "float32"}, {"hi", "float32"}},
		[]param{{"above", "int"}, {"inBand", "int"}},
		"counts the x[i] above hi (NaN included) and copies the x[i] in [lo, hi] to buf in order, at",
		"most len(buf) of them, still counting the rest (lo <= hi, neither NaN; len(x) a multiple of 4).")
	f.ldArg("buf", "R0")
	f.ldLen("buf", "R1")
	f.ldArg("x", "R2")
	f.ldLen("x", "R3")
	f.op("MOVD R3, R12")
	f.ldF("lo", 0)
	f.dupLane(0, 0, 0)
	f.ldF("hi", 1)
	f.dupLane(1, 1, 0)
	f.zero(2) // −(how many x[i] <= hi)
	f.op("MOVD ZR, R4")
	f.compactInit()
	f.comment("16 elements at a time while 16 fit in buf: whole-vector stores only")
	f.label("fast")
	f.op("CMP $16, R3")
	f.op("BLT loop")
	f.op("SUB R4, R1, R10")
	f.op("CMP $16, R10")
	f.op("BLT loop")
	mark := f.count
	f.op("VLD1.P 64(R2), [V16.S4, V17.S4, V18.S4, V19.S4]")
	for k := vreg(0); k < 4; k++ {
		f.w(fcmge(20+k, 1, 16+k)) // x <= hi
		f.addS(2, 2, 20+k)
		f.w(fcmge(24+k, 16+k, 0)) // x >= lo
		f.and(24+k, 24+k, 20+k)
		f.and(24+k, 24+k, 3)
		f.compactFast(16+k, 24+k, 8+k, 12+k)
	}
	f.op("SUB $16, R3")
	f.op("B fast")
	f.loopNote(mark, 16)
	f.comment("then a vector at a time")
	f.label("loop")
	f.op("CBZ R3, done")
	mark = f.count
	f.op("VLD1.P 16(R2), [V4.S4]")
	f.w(fcmge(5, 1, 4)) // x <= hi
	f.addS(2, 2, 5)
	f.w(fcmge(6, 4, 0)) // x >= lo
	f.and(6, 6, 5)
	f.and(6, 6, 3)
	f.compact("band")
	f.op("SUB $4, R3")
	f.op("B loop")
	f.loopNote(mark, 4)
	f.label("done")
	f.addv(2, 2)
	f.toR("R7", 2)
	f.op("MOVW R7, R7")
	f.op("ADD R7, R12, R12")
	f.ret("above", "R12")
	f.ret("inBand", "R4")
	f.op("RET")
}

func genIndicesNEON(f *neonFile, name string, nan bool, doc ...string) {
	f.text(name, []param{{"dst", "[]int32"}, {"x", "[]float32"}, {"v", "float32"}, {"base", "int32"}},
		[]param{{"n", "int"}}, doc...)
	f.ldArg("dst", "R0")
	f.ldLen("dst", "R1")
	f.ldArg("x", "R2")
	f.ldLen("x", "R3")
	if !nan {
		f.ldF("v", 0)
		f.dupLane(0, 0, 0)
	}
	f.ldW("base", "R7")
	f.dupR(4, "R7")
	f.constLanes(10, [4]uint32{0, 1, 2, 3})
	f.addS(10, 10, 4) // the indices of the current vector
	f.op("MOVW $4, R7")
	f.dupR(11, "R7")
	f.op("MOVD ZR, R4")
	f.compactInit()
	f.comment("16 elements at a time while 16 fit in dst: whole-vector stores only")
	f.label("fast")
	f.op("CMP $16, R3")
	f.op("BLT loop")
	f.op("SUB R4, R1, R10")
	f.op("CMP $16, R10")
	f.op("BLT loop")
	mark := f.count
	f.op("VLD1.P 64(R2), [V16.S4, V17.S4, V18.S4, V19.S4]")
	for k := vreg(0); k < 4; k++ {
		if nan {
			f.w(fcmeq(20+k, 16+k, 16+k)) // not NaN
		} else {
			f.w(fcmgt(20+k, 0, 16+k)) // v > x: false for NaN
		}
		f.w(bic(24+k, 3, 20+k))
		f.compactFast(10, 24+k, 4+k, 12+k) // V10, V11 hold the indices and their step
		f.addS(10, 10, 11)
	}
	f.op("SUB $16, R3")
	f.op("B fast")
	f.loopNote(mark, 16)
	f.comment("then a vector at a time")
	f.label("loop")
	f.op("CBZ R3, done")
	mark = f.count
	f.op("VLD1.P 16(R2), [V12.S4]")
	if nan {
		f.w(fcmeq(5, 12, 12)) // not NaN
	} else {
		f.w(fcmgt(5, 0, 12)) // v > x: false for NaN
	}
	f.w(bic(6, 3, 5))
	f.mov(4, 10)
	f.compact("idx")
	f.addS(10, 10, 11)
	f.op("SUB $4, R3")
	f.op("B loop")
	f.loopNote(mark, 4)
	f.label("done")
	f.ret("n", "R4")
	f.op("RET")
}
