package graph

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// The synchronizationStatusCode values.
const (
	StatusNotConfigured = "NotConfigured"
	StatusNotRun        = "NotRun"
	StatusActive        = "Active"
	StatusPaused        = "Paused"
	StatusQuarantine    = "Quarantine"
)

// Job is a synchronization job of a service principal.
type Job struct {
	// ID is the job's ID, e.g. "scim.e5b1…"; matched without regard to case.
	ID string
	// TemplateID is the synchronization template, e.g. "scim".
	TemplateID string
	// State is the job's status now.
	State JobState
	// AfterStart is the state start and restart put the job in; nil means
	// Active without a quarantine.
	AfterStart *JobState

	// Starts and Restarts count the successful actions; ResetScope is the
	// criteria.resetScope of the last restart ("" when it sent none). The
	// stand-in sets them.
	Starts, Restarts int
	ResetScope       string
}

// JobState is a job's status.code and quarantine.
type JobState struct {
	// Code is one of the Status* constants.
	Code string
	// Quarantine, when set, is reported in status.quarantine.
	Quarantine *Quarantine
}

// Quarantine is a synchronizationQuarantine's reason and error.
type Quarantine struct {
	// Reason is a quarantineReason, e.g. "EncounteredQuarantineException".
	Reason string
	// ErrorCode and ErrorMessage fill status.quarantine.error.
	ErrorCode, ErrorMessage string
}

// AddJob gives an existing service principal a synchronization job (or
// replaces the job with that ID). It reports false when the service
// principal does not exist.
func (s *Server) AddJob(spID string, j Job) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.sps[strings.ToLower(spID)]
	if !ok {
		return false
	}
	sp.jobs[strings.ToLower(j.ID)] = &j
	return true
}

// Job returns the job as it is now.
func (s *Server) Job(spID, jobID string) (Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp, ok := s.sps[strings.ToLower(spID)]
	if !ok {
		return Job{}, false
	}
	j, ok := sp.jobs[strings.ToLower(jobID)]
	if !ok {
		return Job{}, false
	}
	return *j, true
}

// jobPath finds the job ID as sent (routing lower-cases the path).
var jobPath = regexp.MustCompile(`(?i)/synchronization/jobs/([^/]+)`)

// withJob calls f with the job the request names, under the lock, or
// answers 404 as the synchronization service does for an unknown job
// (modelled: the real code and text are not documented).
func (s *Server) withJob(w http.ResponseWriter, r *http.Request, f func(j *Job)) bool {
	c := callOf(r)
	id := ""
	if m := jobPath.FindStringSubmatch(s.callRecord(c).Path); m != nil {
		id = m[1]
	}
	s.mu.Lock()
	var j *Job
	if sp, ok := s.sps[strings.ToLower(c.spID)]; ok {
		j = sp.jobs[strings.ToLower(id)]
	}
	if j != nil {
		f(j)
	}
	s.mu.Unlock()
	if j == nil {
		writeSyncError(w, c, http.StatusNotFound, "SynchronizationJobNotFound",
			fmt.Sprintf("The synchronization job '%s' was not found for this service principal.", id))
		return false
	}
	return true
}

// startJob serves POST …/jobs/{jobId}/start → 204. The action takes no
// body. The job leaves pause or quarantine for AfterStart (Active).
func (s *Server) startJob(w http.ResponseWriter, r *http.Request) {
	if s.withJob(w, r, func(j *Job) { j.Starts++; j.State = j.afterStart() }) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// restartJob serves POST …/jobs/{jobId}/restart with
// {"criteria":{"resetScope":"Watermark, Escrows, QuarantineState"}} → 204.
// The body and criteria are optional; a resetScope must list members of
// synchronizationJobRestartScope.
func (s *Server) restartJob(w http.ResponseWriter, r *http.Request) {
	c := callOf(r)
	scope := ""
	if len(strings.TrimSpace(string(c.body))) > 0 {
		var body map[string]json.RawMessage
		if !readJSON(w, r, &body) {
			return
		}
		for k := range body {
			if k != "criteria" {
				writeError(w, c, http.StatusBadRequest, "BadRequest", invalidParameter(k, "restart"))
				return
			}
		}
		if raw, ok := body["criteria"]; ok {
			var criteria map[string]json.RawMessage
			if err := json.Unmarshal(raw, &criteria); err != nil {
				writeError(w, c, http.StatusBadRequest, "BadRequest", msgUnreadable)
				return
			}
			for k, v := range criteria {
				if k != "resetScope" {
					writeError(w, c, http.StatusBadRequest, "BadRequest", fmt.Sprintf("The property '%s' does not exist on type 'microsoft.graph.synchronizationJobRestartCriteria'. Make sure to only use property names that are defined by the type.", k))
					return
				}
				if err := json.Unmarshal(v, &scope); err != nil {
					writeError(w, c, http.StatusBadRequest, "BadRequest", "Cannot convert a primitive value to the expected type 'microsoft.graph.synchronizationJobRestartScope'. See the inner exception for more details.")
					return
				}
				for _, m := range strings.Split(scope, ",") {
					if m = strings.TrimSpace(m); !restartScopes[m] {
						writeError(w, c, http.StatusBadRequest, "BadRequest", fmt.Sprintf("Requested value '%s' was not found.", m))
						return
					}
				}
			}
		}
	}
	if s.withJob(w, r, func(j *Job) { j.Restarts++; j.ResetScope = scope; j.State = j.afterStart() }) {
		w.WriteHeader(http.StatusNoContent)
	}
}

// restartScopes are the synchronizationJobRestartScope members.
var restartScopes = map[string]bool{"Full": true, "QuarantineState": true, "Watermark": true, "Escrows": true, "ConnectorDataStore": true, "None": true}

func (j *Job) afterStart() JobState {
	if j.AfterStart != nil {
		return *j.AfterStart
	}
	return JobState{Code: StatusActive}
}

// getJob serves GET …/jobs/{jobId} with a synchronizationJob in the shape
// of Graph's documented example.
func (s *Server) getJob(w http.ResponseWriter, r *http.Request) {
	c := callOf(r)
	var j Job
	if !s.withJob(w, r, func(found *Job) { j = *found }) {
		return
	}
	host := s.callRecord(c).Host
	body := jobDoc{
		Context:    fmt.Sprintf("https://%s/%s/$metadata#servicePrincipals('%s')/synchronization/jobs/$entity", host, c.version, c.spID),
		ID:         j.ID,
		TemplateID: j.TemplateID,
		Schedule:   scheduleDoc{Interval: "PT40M", State: "Active"},
		Status: statusDoc{
			Code:                            j.State.Code,
			SynchronizedEntryCountByType:    []json.RawMessage{},
			Progress:                        []json.RawMessage{},
			SteadyStateFirstAchievedTime:    "0001-01-01T00:00:00Z",
			SteadyStateLastAchievedTime:     "0001-01-01T00:00:00Z",
			CountSuccessiveCompleteFailures: 0,
		},
		Settings: []settingDoc{{Name: "QuarantineTooManyDeletesThreshold", Value: "500"}},
	}
	if j.State.Code == StatusPaused || j.State.Code == StatusNotRun {
		body.Schedule.State = "Paused"
	}
	if q := j.State.Quarantine; q != nil {
		body.Status.CountSuccessiveCompleteFailures = 1
		body.Status.Quarantine = &quarantineDoc{
			CurrentBegan: "2025-05-14T09:31:07.1234567Z", NextAttempt: "2025-05-14T21:31:07.1234567Z",
			SeriesBegan: "2025-05-14T09:31:07.1234567Z", SeriesCount: 1, Reason: q.Reason,
		}
		if q.ErrorCode != "" || q.ErrorMessage != "" {
			body.Status.Quarantine.Error = &syncErrorDoc{Code: q.ErrorCode, Message: q.ErrorMessage, TenantActionable: true}
		}
	}
	w.Header().Set("Content-Type", "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(marshal(body))
}

// jobDoc is a synchronizationJob on the wire.
type jobDoc struct {
	Context    string       `json:"@odata.context"`
	ID         string       `json:"id"`
	TemplateID string       `json:"templateId"`
	Schedule   scheduleDoc  `json:"schedule"`
	Status     statusDoc    `json:"status"`
	Settings   []settingDoc `json:"synchronizationJobSettings"`
}

type scheduleDoc struct {
	Expiration *string `json:"expiration"`
	Interval   string  `json:"interval"`
	State      string  `json:"state"`
}

// statusDoc is a synchronizationStatus.
type statusDoc struct {
	CountSuccessiveCompleteFailures    int64             `json:"countSuccessiveCompleteFailures"`
	EscrowsPruned                      bool              `json:"escrowsPruned"`
	SynchronizedEntryCountByType       []json.RawMessage `json:"synchronizedEntryCountByType"`
	Code                               string            `json:"code"`
	LastExecution                      json.RawMessage   `json:"lastExecution"`
	LastSuccessfulExecution            json.RawMessage   `json:"lastSuccessfulExecution"`
	Progress                           []json.RawMessage `json:"progress"`
	LastSuccessfulExecutionWithExports json.RawMessage   `json:"lastSuccessfulExecutionWithExports"`
	SteadyStateFirstAchievedTime       string            `json:"steadyStateFirstAchievedTime"`
	SteadyStateLastAchievedTime        string            `json:"steadyStateLastAchievedTime"`
	Quarantine                         *quarantineDoc    `json:"quarantine"`
	TroubleshootingURL                 *string           `json:"troubleshootingUrl"`
}

// quarantineDoc is a synchronizationQuarantine.
type quarantineDoc struct {
	CurrentBegan string        `json:"currentBegan"`
	NextAttempt  string        `json:"nextAttempt"`
	Reason       string        `json:"reason"`
	SeriesBegan  string        `json:"seriesBegan"`
	SeriesCount  int64         `json:"seriesCount"`
	Error        *syncErrorDoc `json:"error"`
}

// syncErrorDoc is a synchronizationError.
type syncErrorDoc struct {
	Code             string `json:"code"`
	Message          string `json:"message"`
	TenantActionable bool   `json:"tenantActionable"`
}

type settingDoc struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// invalidParameter is OData's message for an action parameter the
// operation does not have.
func invalidParameter(name, operation string) string {
	return fmt.Sprintf("The parameter '%s' in the request payload is not a valid parameter for the operation '%s'.", name, operation)
}
