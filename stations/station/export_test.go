package station

// The bounds of a reconnecting charger's waits, for the tests that check
// them on fake time.
const (
	ReconnectWait    = reconnectWait
	MaxReconnectWait = maxReconnectWait
)
