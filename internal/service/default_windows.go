package service

// Default returns the Manager of this platform: the Windows service manager.
func Default() Manager { return &Windows{} }
