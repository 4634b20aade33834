package atomicfile

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// InterruptSignals are the signals HandleSignals catches.
var InterruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// HandleSignals is for a command's main function: on SIGINT, SIGTERM or
// SIGHUP it removes the temporary files in flight (Abort), calls report
// (if not nil) with the signal and the removed files, and then ends the
// process by that same signal, so that the parent sees how it died. The
// previous versions of the files being written stay as they were. stop
// undoes it; when a signal is being handled, stop never returns (the
// handler ends the process by the signal), so that the command's own error
// exit (its writes fail once Abort ran) cannot win the race and hide how
// the process was stopped.
func HandleSignals(report func(sig os.Signal, removed []string)) (stop func()) {
	ch := make(chan os.Signal, 1)
	done := make(chan struct{})
	var handling atomic.Bool
	signal.Notify(ch, InterruptSignals...)
	go func() {
		select {
		case sig := <-ch:
			handling.Store(true)
			removed := Abort()
			if report != nil {
				report(sig, removed)
			}
			signal.Reset(InterruptSignals...)
			if p, err := os.FindProcess(os.Getpid()); err == nil {
				_ = p.Signal(sig)
			}
			// Still here: the signal is ignored (inherited so).
			if s, ok := sig.(syscall.Signal); ok {
				os.Exit(128 + int(s))
			}
			os.Exit(1)
		case <-done:
		}
	}()
	return func() {
		if handling.Load() {
			select {} // the handler exits the process
		}
		signal.Stop(ch)
		close(done)
	}
}
