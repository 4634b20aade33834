package uki

import (
	"context"
	"fmt"
	"io"

	"github.com/ukibuild/ukibuild/pcr"
)

// WriteMeasure writes what ukify 262's build --measure prints: for each of
// the plan's variants (PredictVariant: a profile, a .dtbauto, a .efifw),
// "systemd-measure calculate" of its sections for banks and phases in
// mode (pcr.FormatCalculate; its comments go to comments), and an empty
// line.
func (p *Plan) WriteMeasure(ctx context.Context, w, comments io.Writer, banks []pcr.Bank, phases []string, mode pcr.MeasureJSON) error {
	for _, v := range p.Variants {
		preds, err := p.PredictVariant(ctx, v, banks, phases)
		if err != nil {
			return err
		}
		if err := pcr.FormatCalculate(w, comments, preds, mode); err != nil {
			return err
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return nil
}
