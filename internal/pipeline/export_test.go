package pipeline

// SetSeenFilesBytes bounds what a re-run keeps of the files its check saw
// (0: nothing, so it reads the manifest again) and returns the old bound.
func SetSeenFilesBytes(n int) int {
	old := seenFilesBytes
	seenFilesBytes = n
	return old
}
