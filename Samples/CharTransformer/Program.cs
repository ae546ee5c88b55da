using CharSamples;
using CharTransformerSample;

// Trains the CharTransformer on the fortunes corpus with the code the ModelGen generator emitted, reports the
// held-out loss per character against the unigram baseline, and samples text with the compiled Infer.
//
//   dotnet run -c Release --project Samples/CharTransformer [-- --steps 1200 --batch 32 --lr 0.002 --seed 1]
//
// Default budget: 1,200 steps of 32 windows of 64 characters (2.5 M predicted characters), about 3 minutes on 2 cores.
// The run passes (exit code 0) when the held-out loss is below 70% of the unigram baseline.
return CharCorpus.Run("CharTransformer", new CharTransformer(seed: 1), CharTransformer.Context, args, steps: 1200, batch: 32, learningRate: 2e-3f, targetFraction: 0.70);
