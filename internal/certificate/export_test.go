package certificate

// Test hooks.
var (
	NewCode   = newCode
	CheckChar = checkChar
)
