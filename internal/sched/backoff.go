package sched

import "time"

// restartDelay is how long a service must still wait before it starts a
// replacement. The first failure is replaced at once; after that the wait
// doubles with every consecutive failure, from backoffBase up to backoffMax,
// so that a task that cannot start does not spin the machine. Any task of
// the service turning healthy ends the streak.
func restartDelay(tasks []Task, now time.Time) time.Duration {
	failures, lastFailure := failureStreak(tasks)
	if failures < 2 {
		return 0
	}
	return max(0, lastFailure.Add(backoff(failures)).Sub(now))
}

// failureStreak counts the tasks of a service that failed since one last
// served healthy, and says when the last of them stopped.
func failureStreak(tasks []Task) (failures int, lastFailure time.Time) {
	var lastHealthy time.Time
	for _, t := range tasks {
		if t.HealthyAt.After(lastHealthy) {
			lastHealthy = t.HealthyAt
		}
	}
	for _, t := range tasks {
		if t.Status == Stopped && t.Failed && t.StoppedAt.After(lastHealthy) {
			failures++
			if t.StoppedAt.After(lastFailure) {
				lastFailure = t.StoppedAt
			}
		}
	}
	return failures, lastFailure
}

// backoff is the wait after n consecutive failures (n >= 2).
func backoff(n int) time.Duration {
	d := backoffBase
	for i := 2; i < n && d < backoffMax; i++ {
		d *= 2
	}
	return min(d, backoffMax)
}
