package ohem

// raceEnabled for the internal tests.
const RaceOn = raceOn
const raceEnabled = raceOn
