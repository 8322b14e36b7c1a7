// Command nopprof allocates and holds memory, and nothing in it can read
// its memory profile (it imports neither runtime/pprof nor anything that
// calls runtime.MemProfile): the Go linker turns the profile off, and
// --heap says so.
package main

import (
	"fmt"
	"time"
)

var held [][]byte

func main() {
	for i := 0; i < 8; i++ {
		held = append(held, make([]byte, 1<<20))
	}
	fmt.Println("holding", len(held), "MiB")
	for {
		time.Sleep(time.Hour)
	}
}
