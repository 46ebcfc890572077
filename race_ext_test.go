package ohem_test

import "github.com/ohem-go/ohem"

const raceEnabled = ohem.RaceOn
