package ohem_test

import (
	"fmt"

	"github.com/ohem-go/ohem"
)

// A detector's RPN: keep the 2 hardest of each image's anchors; anchor 3 is neutral (ignored).
// Anchors 6 and 7 tie, and the lower index wins.
func ExampleLoss_Forward() {
	loss, err := ohem.New(ohem.Config{Keep: 2, PerImage: true})
	if err != nil {
		panic(err)
	}
	batch := ohem.Batch{
		Logits: []float32{ // [8 anchors][2 classes]: background, object
			2, -1, 0, 0, -1, 3, 0.5, 0.2, // image 0
			1, 1, 3, -3, -2, 2, 0, 4, // image 1
		},
		Targets: []int32{0, 1, 1, -1, 1, 1, 0, 0},
		Classes: 2,
		Images:  2,
	}
	res, err := loss.Forward(batch)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f, kept %d of %d valid, threshold %.4f\n", res.Loss, res.Kept, res.Valid, res.Threshold)
	fmt.Println("kept anchors:", loss.Selected())
	// Output:
	// loss 2.6906, kept 4 of 7 valid, threshold 0.0486
	// kept anchors: [0 1 5 6]
}

// A segmentation head: planar [images][classes][H*W] logits, the mmseg / HRNet rule: keep every
// pixel whose target probability is below 0.7, and at least the 2 hardest. Only pixel 3 is below
// 0.7, so MinKept adds pixel 0, the first of three equally hard ones.
func ExampleLoss_ForwardBackward() {
	loss, err := ohem.New(ohem.Config{ProbThreshold: 0.7, MinKept: 2})
	if err != nil {
		panic(err)
	}
	batch := ohem.Batch{
		Logits: []float32{ // one image, 3 classes, 4 pixels
			4, 0, 0, 1, // class 0
			0, 4, 0, 1, // class 1
			0, 0, 4, 1, // class 2
		},
		Targets: []int32{0, 1, 2, 2},
		Classes: 3,
		Spatial: 4,
	}
	grad := make([]float32, len(batch.Logits))
	res, err := loss.ForwardBackward(grad, batch)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f over pixels %v\n", res.Loss, loss.Selected())
	fmt.Printf("gradient of pixel 3: %.4f %.4f %.4f\n", grad[3], grad[7], grad[11])
	// Output:
	// loss 0.5673 over pixels [0 3]
	// gradient of pixel 3: 0.1667 0.1667 -0.3333
}

// TopK returns the indices of the k largest values in index order, ties toward the lower index.
func ExampleTopK() {
	losses := []float32{0.1, 2.5, 0.7, 2.5, 1.9, 0.7}
	idx, err := ohem.TopK(nil, losses, 3)
	if err != nil {
		panic(err)
	}
	kth, _ := ohem.KthLargest(losses, 3)
	fmt.Println(idx, kth, ohem.CountAtLeast(losses, kth))
	// Output: [1 3 4] 1.9 3
}

func ExampleCrossEntropy() {
	batch := ohem.Batch{
		Logits:  []float32{20, 0, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0},
		Targets: []int32{0, 0, -1},
		Classes: 4,
	}
	dst := make([]float32, 3)
	if err := ohem.CrossEntropy(dst, batch); err != nil {
		panic(err)
	}
	fmt.Printf("%.6g\n", dst) // a confident sample keeps its tiny loss: 3·e^-20
	// Output: [6.18346e-09 1.38629 0]
}

// A text detector's probability map (DBNet's balanced BCE): every logit is a binary sample
// (Sigmoid). Keep every positive and the 3 hardest negatives per positive, sum, and divide by the
// count kept, as DBNet's BalanceCrossEntropyLoss does. Pixel 10 is ignored.
func ExampleLoss_Forward_sigmoid() {
	loss, err := ohem.New(ohem.Config{NegPosRatio: 3, Background: 0, Reduction: ohem.Sum})
	if err != nil {
		panic(err)
	}
	batch := ohem.Batch{
		Logits:  []float32{4, -3, 0.5, -2, 1.5, -5, 2, -1, 0, -4, -0.5, -6}, // one 3 × 4 map
		Targets: []int32{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, -1, 0},               // 1 text, 0 background
		Classes: 1,
		Sigmoid: true,
	}
	res, err := loss.Forward(batch)
	if err != nil {
		panic(err)
	}
	fmt.Printf("balanced BCE %.4f over pixels %v\n", res.Loss/float32(res.Kept), loss.Selected())
	// Output:
	// balanced BCE 1.2051 over pixels [0 2 4 6]
}
