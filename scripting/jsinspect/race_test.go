//go:build race

package jsinspect

const raceEnabled = true
