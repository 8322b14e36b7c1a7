package debug

import "k8s.io/cli-runtime/pkg/genericiooptions"

func genericStreams() genericiooptions.IOStreams {
	s, _, _, _ := genericiooptions.NewTestIOStreams()
	return s
}
