import json, numpy as np, sys
data = json.load(open(sys.argv[1]))
for ds, rows in data.items():
    cur = np.mean([r['cur'] for r in rows]); ceil = np.mean([max(r['perL']) for r in rows]); avg = np.mean([np.mean(r['perL']) for r in rows])
    print(ds, f"cur {cur:.1f} ceil {ceil:.1f} meanL {avg:.1f}")
    def pick(f):
        s=[]
        for r in rows:
            D=np.array(r['D'],dtype=float); n=len(D)
            sc=f(D); s.append(r['perL'][int(np.nanargmax(sc))])
        return np.mean(s)
    def rowstat(fn): return lambda D: np.array([-fn(np.delete(D[i], i)) for i in range(len(D))])
    print(' medoid mean', pick(rowstat(np.nanmean)))
    print(' medoid median', pick(rowstat(np.nanmedian)))
    print(' min-max', pick(rowstat(np.nanmax)))
    for q in [0.25, 0.5, 0.75]:
        print(' quantile',q, pick(rowstat(lambda x: np.nanquantile(x,q))))
    # near-neighbour count
    for th in [20, 40, 60]:
        print(' nn count <',th, pick(lambda D: np.array([np.nansum(np.delete(D[i],i)<th) + 1e-3*-np.nanmean(np.delete(D[i],i)) for i in range(len(D))])))
    # current-style: node nearest best peer of others
    def curstyle(D, credit=0.5):
        n=len(D); s=np.zeros(n)
        for c in range(n):
            row=D[c].copy(); row[c]=np.nan; best=np.nanmin(row)
            for L in range(n):
                if L==c or np.isnan(row[L]): continue
                g=row[L]
                s[L]+= 1 if (g<=best*1.1 or g<=best+5) else credit*min(1,(best+5)/g)
        return s
    print(' curstyle', pick(curstyle))
    # correlation of perL rank with features
