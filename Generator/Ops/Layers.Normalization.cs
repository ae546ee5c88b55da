using System.Collections.Generic;
using System.Globalization;
using ModelGen.Generator.Model;

namespace ModelGen.Generator.Ops;

internal static partial class Layers
{
    static partial void Normalization()
    {
        // BatchNorm1d(features) over (B, F) and BatchNorm2d(channels) over (B, C, H, W): weight (ones) and bias (zeros)
        // trained; running_mean (zeros) and running_var (ones) saved but not trained. Training: batch statistics and a
        // running-statistics update in graph.Effects; inference: running statistics.
        BatchNormLayer("BatchNorm1d", "features", rank: 2);
        BatchNormLayer("BatchNorm2d", "channels", rank: 4);

        // Dropout(p): inverted dropout in training (mask salted by the layer path), identity in inference.
        Layer(new LayerDef("Dropout", new[] { "p" },
            a =>
            {
                double p = a["p"];
                if (!(p >= 0 && p <= 1)) throw new LayerError($"Dropout needs p in [0, 1], got {p.ToString(CultureInfo.InvariantCulture)}");
                return new List<ParamSpec>();
            },
            c =>
            {
                int x = c.T(0);
                double p = c.Args["p"];
                if (!c.Training || p == 0) return x;
                string path = c.Instance.Path;
                return c.Op("Dropout", new[] { x }, n => { n.Reals = new[] { p }; n.Name = path; });
            },
            a => $"Dropout p = {a["p"].ToString(CultureInfo.InvariantCulture)}"));
    }

    static void BatchNormLayer(string name, string size, int rank)
    {
        Layer(new LayerDef(name, new[] { size, "epsilon", "momentum" },
            a =>
            {
                int c = a.Size(size);
                double eps = a["epsilon"], momentum = a["momentum"];
                if (!(eps > 0)) throw new LayerError($"{name} needs a positive epsilon, got {eps.ToString(CultureInfo.InvariantCulture)}");
                if (!(momentum >= 0 && momentum <= 1)) throw new LayerError($"{name} needs a momentum in [0, 1], got {momentum.ToString(CultureInfo.InvariantCulture)}");
                return new List<ParamSpec>
                {
                    new("weight", EquatableArray.Of(c), "Ones"),
                    new("bias", EquatableArray.Of(c), "Zeros"),
                    new("running_mean", EquatableArray.Of(c), "Zeros", Trainable: false),
                    new("running_var", EquatableArray.Of(c), "Ones", Trainable: false),
                };
            },
            call =>
            {
                int x = call.T(0), c = call.Args.Size(size);
                var shape = call.ShapeOf(x);
                if (shape.Rank != rank || shape[1] != c)
                    throw call.ShapeError($"input shape {shape} does not fit: {name} expects {(rank == 2 ? $"(B, {c})" : $"(B, {c}, H, W)")}");
                var reals = new[] { call.Args["epsilon"], call.Args["momentum"] };
                int weight = call.Parameter("weight"), bias = call.Parameter("bias");
                int mean = call.Parameter("running_mean"), variance = call.Parameter("running_var");
                if (!call.Training)
                    return call.Op("BatchNormInference", new[] { x, weight, bias, mean, variance }, n => n.Reals = reals);
                int y = call.Op("BatchNorm", new[] { x, weight, bias }, n => n.Reals = reals);
                call.Graph.Effects.Add(call.Op("BatchNormUpdate", new[] { y, mean, variance }, n => n.Reals = reals));
                return y;
            },
            a => $"{name} {a.Size(size)}, eps {a["epsilon"].ToString(CultureInfo.InvariantCulture)}, momentum {a["momentum"].ToString(CultureInfo.InvariantCulture)}"));
    }
}
