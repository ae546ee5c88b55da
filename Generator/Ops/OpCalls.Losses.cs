namespace ModelGen.Generator.Ops;

internal static partial class OpCalls
{
    static partial void Losses()
    {
        Call("BinaryCrossEntropyWithLogits", c => c.Op("BinaryCrossEntropyWithLogits", c.T(0), c.T(1)));
        Call("L1Loss", c => c.Op("L1Loss", c.T(0), c.T(1)));
        Call("HuberLoss", c =>
        {
            int p = c.T(0), t = c.T(1);
            double delta = c.Number(2);
            if (!(delta > 0)) throw new CompileError("MG0004", "HuberLoss", "delta must be a positive constant");
            return c.Op("HuberLoss", new[] { p, t }, n => n.Reals = new[] { delta });
        });
        Call("CrossEntropy", c =>
        {
            int logits = c.T(0), labels = c.Labels(1);
            double smoothing = c.Number(2);
            if (!(smoothing >= 0 && smoothing <= 1)) throw new CompileError("MG0004", "CrossEntropy", "label smoothing must be a constant in [0, 1]");
            return c.Op("CrossEntropy", new[] { logits, labels }, n => n.Reals = new[] { smoothing });
        });
    }
}
