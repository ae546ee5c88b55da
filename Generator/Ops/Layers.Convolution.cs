using System.Collections.Generic;
using ModelGen.Generator.Ir;
using ModelGen.Generator.Model;

namespace ModelGen.Generator.Ops;

// Conv2d, MaxPool2d and AvgPool2d over NCHW images (the runtime classes of Runtime/Layers).
internal static partial class Layers
{
    static partial void Convolution()
    {
        // Conv2d(in, out, k, stride, padding, dilation, groups, bias): weight (out, in/groups, k, k) He-uniform
        // (fan-in in/groups·k·k), bias (out) zeros.
        Layer(new LayerDef("Conv2d", new[] { "inChannels", "outChannels", "kernelSize", "stride", "padding", "dilation", "groups", "bias" },
            a =>
            {
                var (inC, outC, k, _, _, _, groups) = ConvArgs(a);
                var ps = new List<ParamSpec> { new("weight", EquatableArray.Of(outC, inC / groups, k, k), "HeUniform") };
                if (a.Flag("bias")) ps.Add(new ParamSpec("bias", EquatableArray.Of(outC), "Zeros"));
                return ps;
            },
            c =>
            {
                var (inC, _, k, stride, padding, dilation, groups) = ConvArgs(c.Args);
                int x = c.T(0), w = c.Parameter("weight"), b = c.Parameter("bias");
                var shape = c.ShapeOf(x);
                if (shape.Rank != 4 || !shape.IsBatched || shape[1] != inC)
                    throw c.ShapeError($"input shape {shape} does not fit weight {c.ShapeOf(w)}: Conv2d expects (B, {inC}, H, W) images", x, $"(B, {inC}, H, W)");
                var ints = new[] { k, stride, padding, dilation, groups };
                return b >= 0 ? c.Op("Conv2dBias", new[] { x, w, b }, n => n.Ints = ints) : c.Op("Conv2d", new[] { x, w }, n => n.Ints = ints);
            },
            a =>
            {
                var (inC, outC, k, stride, padding, dilation, groups) = ConvArgs(a);
                string text = $"Conv2d {inC} → {outC}, {k}x{k}";
                if (stride != 1) text += $", stride {stride}";
                if (padding != 0) text += $", padding {padding}";
                if (dilation != 1) text += $", dilation {dilation}";
                if (groups != 1) text += groups == inC && groups == outC ? ", depthwise" : $", {groups} groups";
                return text + (a.Flag("bias") ? "" : ", no bias");
            }));
        Pool("MaxPool2d");
        Pool("AvgPool2d");
    }

    static (int In, int Out, int Kernel, int Stride, int Padding, int Dilation, int Groups) ConvArgs(LayerArgs a)
    {
        int inC = a.Size("inChannels"), outC = a.Size("outChannels"), groups = a.Size("groups");
        if (inC % groups != 0 || outC % groups != 0)
            throw new LayerError($"Conv2d: groups {groups} must divide both {inC} input and {outC} output channels");
        return (inC, outC, a.Size("kernelSize"), a.Size("stride"), a.Count("padding"), a.Size("dilation"), groups);
    }

    static void Pool(string name)
    {
        Layer(new LayerDef(name, new[] { "kernelSize", "stride", "padding" },
            a =>
            {
                PoolArgs(name, a);
                return new List<ParamSpec>();
            },
            c =>
            {
                var (k, stride, padding) = PoolArgs(name, c.Args);
                int x = c.T(0);
                var shape = c.ShapeOf(x);
                if (shape.Rank != 4 || !shape.IsBatched)
                    throw c.ShapeError($"input shape {shape} does not fit: {name} expects (B, C, H, W) images");
                return c.Op(name, new[] { x }, n => n.Ints = new[] { k, stride, padding });
            },
            a =>
            {
                var (k, stride, padding) = PoolArgs(name, a);
                return $"{name} {k}x{k}{(stride != k ? $", stride {stride}" : "")}{(padding != 0 ? $", padding {padding}" : "")}";
            }));
    }

    static (int Kernel, int Stride, int Padding) PoolArgs(string name, LayerArgs a)
    {
        int k = a.Size("kernelSize"), stride = a.Count("stride"), padding = a.Count("padding");
        if (padding > k / 2) throw new LayerError($"{name}: padding {padding} is more than half the kernel size {k}");
        return (k, stride == 0 ? k : stride, padding);
    }
}
