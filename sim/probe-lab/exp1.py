import json, numpy as np, sys, itertools
sys.path.insert(0,'sim/probe-lab')
from sim import *
data=json.load(open('sim/probe-lab/perL-101.json'))
for ds, rows in data.items():
    ceil2=[]; 
    for r in rows:
        D,T=load(r); L=r['curL']; n=len(D)
        cnt=0
        for t in T:
            best=np.nanmin(t)
            okj=[j for j in range(n) if not np.isnan(t[j]) and (t[j]<=best*1.1 or t[j]<=best+5)]
            # with L fixed, can 2 more pings cover? always yes (ping the best) -> ceiling trivially 100 for oracle; instead: second ping fixed by policy, third oracle
            probed=[L]; rr=[t[L]]
            if np.isnan(t[L]): probed=[]; rr=[]
            j=policy_next(D, probed, rr, [L]); 
            cnt+= any(t[x]<=best*1.1 or t[x]<=best+5 for x in [L,j] if not np.isnan(t[x])) or True
        # measure: fraction where L alone covers, L+2nd covers, all 3
        a1=a2=a3=0
        for t in T:
            best=np.nanmin(t); okf=lambda x: not np.isnan(t[x]) and (t[x]<=best*1.1 or t[x]<=best+5)
            p=run_client(D,t,L)
            a1+=okf(L); a2+= okf(L) or (len(p)>1 and okf(p[1])); a3+= any(okf(x) for x in p)
        ceil2.append((a1/len(T),a2/len(T),a3/len(T)))
    print(ds, 'cover after ping1/2/3', np.mean(ceil2,axis=0)*100)
