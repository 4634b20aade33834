package pyjson_test

import (
	"fmt"

	"github.com/ukibuild/ukibuild/internal/pyjson"
)

func Example() {
	o := pyjson.NewObject()
	o.Set("name", "Grüße <&>")
	o.Set("pcrs", []int{11})
	o.Set("ratio", 1e16)
	o.Set("empty", []any{})

	compact, err := pyjson.Marshal(o)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(compact))

	indented, err := pyjson.MarshalIndent(o, 4)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(indented))

	// Read, modify and write back, keeping the key order.
	in, err := pyjson.UnmarshalObject([]byte(`{"sha256": [], "sha1": [1]}`))
	if err != nil {
		panic(err)
	}
	in.Set("sha256", []any{"sig"})
	out, _ := pyjson.Marshal(in)
	fmt.Println(string(out))

	// Output:
	// {"name": "Gr\u00fc\u00dfe <&>", "pcrs": [11], "ratio": 1e+16, "empty": []}
	// {
	//     "name": "Gr\u00fc\u00dfe <&>",
	//     "pcrs": [
	//         11
	//     ],
	//     "ratio": 1e+16,
	//     "empty": []
	// }
	// {"sha256": ["sig"], "sha1": [1]}
}
