package stack

import (
	"regexp"
	"strings"
	"testing"

	"github.com/llmmon/llmmon/rules"
)

// status's blind line and the LLMTargetExposesNothingUsable alert read the same llmmon series.
func TestBlindExprMatchesTheAlert(t *testing.T) {
	data, err := rules.FS.ReadFile("alerts/self.yml")
	if err != nil {
		t.Fatal(err)
	}
	sel := regexp.MustCompile(`\{__name__=~"[^"]+"\}`)
	want := sel.FindString(blindExpr)
	if want == "" || !strings.Contains(string(data), want) {
		t.Errorf("the alert does not read %s", want)
	}
}
