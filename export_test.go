package ohem

// raceEnabled for the internal tests.
const RaceOn = raceOn
const raceEnabled = raceOn

// The group sizes where the selection by counting changes its path (select.go).
const FewSample, FewDirect = fewSample, fewDirect
